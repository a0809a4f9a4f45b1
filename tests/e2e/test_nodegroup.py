"""The node-pool reconciler's NodeGroup status through the real apiserver: the structural
schema prunes any field it does not declare, so everything written must read back."""

import base64
import os
import http.server
import json
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import yaml

from conftest import ALERTS_TOKEN, NAMESPACE, ROOT, TOOLS, free_port, wait_until


class DispatchPipeline(http.server.BaseHTTPRequestHandler):
    """A repository_dispatch endpoint on loopback: records each event and answers 204."""
    events = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        DispatchPipeline.events.append({"auth": self.headers.get("Authorization"), "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def pipeline():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), DispatchPipeline)
    DispatchPipeline.events = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dispatches"
    server.shutdown()


def apply_dispatch_group(cluster, group, pool_label, secret, token, dispatch, **spec):
    """A dispatch NodeGroup whose nodes carry workload-type=<pool_label>, with its token Secret."""
    cluster.admin.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret, "namespace": NAMESPACE},
                         "data": {"token": base64.b64encode(token.encode()).decode()}})
    cluster.admin.apply({
        "apiVersion": "ballast.dev/v1alpha1", "kind": "NodeGroup", "metadata": {"name": group},
        "spec": {"minNodes": 0,
                 "provider": {"type": "dispatch", "credentialsSecret": {"name": secret, "namespace": NAMESPACE},
                              "dispatch": dispatch},
                 "offerings": [{"id": "cx42", "cpu": "8", "memory": "16Gi", "maxPods": 110}],
                 "labels": {"workload-type": pool_label}, "scaleUp": {"podAgeSeconds": 0}, **spec}})


def create_pool_pod(cluster, name, pool_label, namespace):
    """A pod only the group's nodes can take: unschedulable until one joins."""
    cluster.admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                          "spec": {"nodeSelector": {"workload-type": pool_label},
                                   "containers": [{"name": "main", "image": "registry.invalid/batch:1",
                                                   "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}},
                         "-n", namespace)


def test_status_written_by_the_reconciler_reads_back_unpruned(cluster, ballast, nodes, namespace, pipeline):
    token = "e2e-dispatch-token"
    group, pool_label = f"pool-{namespace[-6:]}", f"batch-{namespace[-6:]}"  # unique per run
    apply_dispatch_group(cluster, group, pool_label, "e2e-dispatch", token, {"url": pipeline, "eventType": "ballast-scale"},
                         maxNodes=2, provisionTimeoutSeconds=1800)
    try:
        create_pool_pod(cluster, "needs-pool", pool_label, namespace)
        stored = wait_until("an in-flight VM in the status", lambda: (lambda g: g if g.get("status", {}).get(
            "inFlight") and g["status"]["inFlight"][0].get("providerId") else None)(
            cluster.admin.get("nodegroup", group)), timeout=90)
        status = stored["status"]
        in_flight = status["inFlight"][0]
        assert set(in_flight) == {"name", "offering", "requestedAt", "requestId", "providerId"}, in_flight
        assert in_flight["offering"] == "cx42"
        assert set(status["lastScaleUp"]) == {"time", "reason"}
        event = DispatchPipeline.events[-1]
        assert event["auth"] == f"Bearer {token}"
        assert json.dumps(event["body"]).find(in_flight["requestId"]) >= 0, event["body"]

        # The pipeline's node joins with the group's label: kwok makes it Ready.
        cluster.add_nodes([in_flight["name"]], cpu="8", memory="16Gi",
                          labels={"ballast.dev/nodegroup": group, "workload-type": pool_label})
        wait_until("the in-flight VM resolved", lambda: not cluster.admin.get("nodegroup", group)
                   .get("status", {}).get("inFlight"), timeout=60)
        wait_until("the pod scheduled on the new node", lambda: cluster.admin.get(
            "pod", "needs-pool", namespace)["spec"].get("nodeName") == in_flight["name"], timeout=60)
        status = cluster.admin.get("nodegroup", group)["status"]
        for entry in status.get("nodes", []):
            assert {"name", "state"} <= set(entry), entry
    finally:
        cluster.admin.run("delete", "nodegroup", group, check=False)


EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "dispatch"
sys.path.insert(0, str(EXAMPLES))
from next_nodes import next_nodes  # noqa: E402  (the example's own naming, run by the fake workflow below)


@pytest.mark.parametrize("current, desired, remove, expected", [
    ([], 1, [], ["talent-mesh-node-1"]),
    (["talent-mesh-node-1"], 2, [], ["talent-mesh-node-1", "talent-mesh-node-2"]),
    # name-keyed: the drained node goes, not the highest index
    (["talent-mesh-node-1", "talent-mesh-node-2", "talent-mesh-node-3"], 2, ["talent-mesh-node-2"],
     ["talent-mesh-node-1", "talent-mesh-node-3"]),
    (["talent-mesh-node-1", "talent-mesh-node-3"], 3, [], ["talent-mesh-node-1", "talent-mesh-node-2",
                                                           "talent-mesh-node-3"]),
    # a provision timeout names ballast's request, not ours: the newest name goes
    (["talent-mesh-node-1", "talent-mesh-node-2"], 1, ["pool-0b8f0a8e"], ["talent-mesh-node-1"]),
    (["talent-mesh-node-1"], 1, [], ["talent-mesh-node-1"]),  # a repeated dispatch changes nothing
])
def test_the_example_pipeline_names_nodes_stably(current, desired, remove, expected):
    assert next_nodes("talent-mesh-node", current, desired, remove) == expected


def test_the_example_pipeline_refuses_a_bad_payload():
    with pytest.raises(ValueError, match="desired"):
        next_nodes("n", [], "3", [])
    with pytest.raises(ValueError, match="remove"):
        next_nodes("n", [], 1, "talent-mesh-node-1")


def test_the_example_workflow_takes_both_event_types_and_the_payload():
    workflow = yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text())
    # YAML 1.1 reads the key `on` as True
    trigger = workflow.get("on", workflow.get(True))
    assert trigger["repository_dispatch"]["types"] == ["scale_up", "scale_down"]
    steps = workflow["jobs"]["converge"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert "next_nodes.py" in script and "terraform apply" in script
    assert "client_payload.nodegroup" in workflow["concurrency"]["group"]
    assert (EXAMPLES / "terraform" / "main.tf").read_text().count("for_each     = toset(var.node_names)") == 1


class NamingPipeline(http.server.BaseHTTPRequestHandler):
    """A repository_dispatch workflow on loopback that names its own nodes with the example's
    next_nodes() and brings them up as kwok Nodes (or deletes them), after answering 204 as
    GitHub does."""
    cluster, group, labels, events, names = None, None, {}, [], []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        NamingPipeline.events.append(body)
        self.send_response(204)
        self.end_headers()
        threading.Thread(target=NamingPipeline.converge, args=(body["client_payload"],), daemon=True).start()

    @staticmethod
    def converge(payload):
        wanted = next_nodes("talent-mesh-node", NamingPipeline.names, payload["desired"], payload["remove"])
        for gone in set(NamingPipeline.names) - set(wanted):
            NamingPipeline.cluster.admin.run("delete", "node", gone, "--wait=false", check=False)
        new = [name for name in wanted if name not in NamingPipeline.names]
        NamingPipeline.names = wanted
        NamingPipeline.cluster.add_nodes(new, cpu="8", memory="16Gi", labels=NamingPipeline.labels)

    def log_message(self, *args):
        pass


def test_a_pipeline_that_names_its_own_nodes_scales_the_group_up_and_down(cluster, ballast, nodes, namespace):
    token = "e2e-naming-token"
    group, pool_label = f"mesh-{namespace[-6:]}", f"mesh-{namespace[-6:]}"
    NamingPipeline.cluster, NamingPipeline.group, NamingPipeline.events, NamingPipeline.names = cluster, group, [], []
    NamingPipeline.labels = {"ballast.dev/nodegroup": group, "workload-type": pool_label}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), NamingPipeline)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    apply_dispatch_group(cluster, group, pool_label, "e2e-naming", token,
                         {"url": f"http://127.0.0.1:{server.server_address[1]}/dispatches",
                          "eventType": "scale_up", "scaleDownEventType": "scale_down"},
                         maxNodes=3, provisionTimeoutSeconds=60,
                         scaleDown={"unneededSeconds": 0, "delayAfterAddSeconds": 0, "utilizationThreshold": 0})
    try:
        create_pool_pod(cluster, "needs-mesh", pool_label, namespace)
        wait_until("the pod scheduled on the pipeline's node", lambda: cluster.admin.get(
            "pod", "needs-mesh", namespace)["spec"].get("nodeName") == "talent-mesh-node-1", timeout=90)
        up = NamingPipeline.events[0]
        assert up["event_type"] == "scale_up" and up["client_payload"]["direction"] == "up", up
        assert up["client_payload"]["desired"] == 1, up

        def settled():
            status = cluster.admin.get("nodegroup", group).get("status", {})
            return status if not status.get("inFlight") and status.get("readyNodes") == 1 else None
        status = wait_until("the request adopted by talent-mesh-node-1 and ended", settled, timeout=60)
        row = next(entry for entry in status["nodes"] if entry["name"] == "talent-mesh-node-1")
        assert row["offering"] == "cx42" and row["providerId"].startswith(group + "-") and row["created"], row
        conditions = {c["type"]: c for c in status["conditions"]}
        assert set(conditions) == {"Ready", "ScalingUp", "ScalingDown", "Backoff"}, conditions
        assert conditions["Ready"]["status"] == "True" and conditions["Backoff"]["status"] == "False", conditions
        events = cluster.admin.get("events", namespace="default")["items"]
        reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
        assert ("talent-mesh-node-1", "NodeReady") in reasons, reasons
        assert all(e["reason"] != "ProvisionTimeout" for e in events if e["involvedObject"]["name"] == group)
        assert len(NamingPipeline.events) == 1, NamingPipeline.events  # one VM, none more

        # The pod goes: the empty node is drained and removed through scale_down, by its name.
        cluster.admin.run("delete", "pod", "needs-mesh", "-n", namespace, "--wait=false")
        wait_until("the node removed by the pipeline", lambda: cluster.admin.get(
            "node", "talent-mesh-node-1", check=False) is None, timeout=90)
        down = NamingPipeline.events[-1]
        assert down["event_type"] == "scale_down" and down["client_payload"]["direction"] == "down", down
        assert down["client_payload"]["remove"] == ["talent-mesh-node-1"] and down["client_payload"]["desired"] == 0
    finally:
        cluster.admin.run("delete", "nodegroup", group, check=False)
        for name in NamingPipeline.names:
            cluster.admin.run("delete", "node", name, "--wait=false", check=False)
        server.shutdown()


def post_alert(ballast, token, body):
    request = urllib.request.Request(f"http://127.0.0.1:{ballast.admin_port}/v1/alerts", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_alertmanager_alert_adds_one_node_through_the_pipeline(cluster, ballast, nodes, namespace):
    group = f"alert-{namespace[-6:]}"
    NamingPipeline.cluster, NamingPipeline.group, NamingPipeline.events, NamingPipeline.names = cluster, group, [], []
    NamingPipeline.labels = {"ballast.dev/nodegroup": group, "workload-type": group}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), NamingPipeline)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    apply_dispatch_group(cluster, group, group, "e2e-alert", "e2e-alert-pipeline",
                         {"url": f"http://127.0.0.1:{server.server_address[1]}/dispatches", "eventType": "scale_up"},
                         maxNodes=2, provisionTimeoutSeconds=60, scaleDown={"enabled": False})
    firing = {"version": "4", "status": "firing", "receiver": "ballast", "groupKey": "{}", "alerts": [
        {"status": "firing", "labels": {"alertname": "ClusterCapacityHigh", "ballast_nodegroup": group,
                                        "ballast_action": "scale_up"},
         "annotations": {}, "startsAt": "2026-12-07T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "fingerprint": f"fp-{group}"}]}
    try:
        assert post_alert(ballast, "wrong", firing)[0] == 401
        wait_until("ballast leads", lambda: ballast.metric("ballast_leader") == 1, timeout=60)
        status, answer = post_alert(ballast, ALERTS_TOKEN, firing)
        assert status == 202 and answer == {"requests": 1, "recorded": 1, "leader": True}, answer
        wait_until("the pipeline's node Ready in the group", lambda: cluster.admin.get("nodegroup", group).get(
            "status", {}).get("readyNodes") == 1 and not cluster.admin.get("nodegroup", group)["status"].get("inFlight"),
            timeout=90)
        assert NamingPipeline.names == ["talent-mesh-node-1"], NamingPipeline.names
        assert NamingPipeline.events[0]["client_payload"]["desired"] == 1, NamingPipeline.events
        # Alertmanager's repeat_interval re-send: the same firing, no second node.
        assert post_alert(ballast, ALERTS_TOKEN, firing)[1]["recorded"] == 0
        time.sleep(3)
        assert len(NamingPipeline.events) == 1, NamingPipeline.events
        events = cluster.admin.get("events", namespace="default")["items"]
        assert any(e["involvedObject"]["name"] == group and e["reason"] == "ScaleUpRequested" for e in events)
    finally:
        cluster.admin.run("delete", "nodegroup", group, check=False)
        for name in NamingPipeline.names:
            cluster.admin.run("delete", "node", name, "--wait=false", check=False)
        server.shutdown()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_charts_prometheus_rule_is_valid_for_prometheus(tmp_path):
    chart = ROOT / "manifests" / "helm" / "ballast"
    rendered = subprocess.run(
        [str(TOOLS / "helm"), "template", "ballast", str(chart), "--set", "prometheusRule.enabled=true",
         "-s", "templates/prometheusrule.yaml"],
        capture_output=True, text=True, check=True, env={**os.environ, "HELM_CACHE_HOME": str(tmp_path),
                                                         "HELM_CONFIG_HOME": str(tmp_path), "HELM_DATA_HOME": str(tmp_path)})
    rule = yaml.safe_load(rendered.stdout)
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert alerts == {"BallastScaleUpFailing", "BallastNodesStuckUnready", "BallastProviderAPIErrors",
                      "BallastNotLeaderAnywhere", "BallastWebhookErrors"}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_alert_rules_example_is_valid_for_prometheus_and_carries_the_ballast_labels(tmp_path):
    rule = yaml.safe_load((ROOT / "examples" / "alerts" / "prometheusrule.yaml").read_text())
    rules = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    high = rules["ClusterCapacityHigh"]
    assert high["for"] == "10m" and "0.80" in high["expr"], high
    assert high["labels"]["ballast_nodegroup"] == "general" and high["labels"]["ballast_action"] == "scale_up"
    assert all(r["labels"]["ballast_action"] in ("scale_up", "scale_down") for r in rules.values())
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    receiver = yaml.safe_load((ROOT / "examples" / "alerts" / "alertmanager-receiver.yaml").read_text())
    (hook,) = [r for r in receiver["receivers"] if r["name"] == "ballast"][0]["webhook_configs"]
    assert hook["url"].endswith(":9102/v1/alerts") and hook["http_config"]["authorization"]["type"] == "Bearer"
