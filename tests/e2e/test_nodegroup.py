"""The node-pool reconciler's NodeGroup status through the real apiserver: the structural
schema prunes any field it does not declare, so everything written must read back."""

import base64
import http.server
import json
import threading

import pytest

from conftest import NAMESPACE, free_port, wait_until


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


def test_status_written_by_the_reconciler_reads_back_unpruned(cluster, ballast, nodes, namespace, pipeline):
    token = "e2e-dispatch-token"
    cluster.admin.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "e2e-dispatch", "namespace": NAMESPACE},
                         "data": {"token": base64.b64encode(token.encode()).decode()}})
    cluster.admin.apply({
        "apiVersion": "ballast.dev/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "e2e-pool"},
        "spec": {"minNodes": 0, "maxNodes": 2,
                 "provider": {"type": "dispatch", "credentialsSecret": {"name": "e2e-dispatch", "namespace": NAMESPACE},
                              "dispatch": {"url": pipeline, "eventType": "ballast-scale"}},
                 "offerings": [{"id": "cx42", "cpu": "8", "memory": "16Gi", "maxPods": 110}],
                 "labels": {"workload-type": "e2e-batch"}, "scaleUp": {"podAgeSeconds": 0},
                 "provisionTimeoutSeconds": 1800}})
    try:
        # A pod only the group's nodes can take: unschedulable until a node joins.
        cluster.admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "needs-pool"},
                              "spec": {"nodeSelector": {"workload-type": "e2e-batch"},
                                       "containers": [{"name": "main", "image": "registry.invalid/batch:1",
                                                       "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}},
                             "-n", namespace)
        group = wait_until("an in-flight VM in the status", lambda: (lambda g: g if g.get("status", {}).get(
            "inFlight") and g["status"]["inFlight"][0].get("providerId") else None)(
            cluster.admin.get("nodegroup", "e2e-pool")), timeout=90)
        status = group["status"]
        in_flight = status["inFlight"][0]
        assert set(in_flight) == {"name", "offering", "requestedAt", "requestId", "providerId"}, in_flight
        assert in_flight["offering"] == "cx42"
        assert set(status["lastScaleUp"]) == {"time", "reason"}
        event = DispatchPipeline.events[-1]
        assert event["auth"] == f"Bearer {token}"
        assert json.dumps(event["body"]).find(in_flight["requestId"]) >= 0, event["body"]

        # The pipeline's node joins with the group's label: kwok makes it Ready.
        cluster.add_nodes([in_flight["name"]], cpu="8", memory="16Gi",
                          labels={"ballast.dev/nodegroup": "e2e-pool", "workload-type": "e2e-batch"})
        wait_until("the in-flight VM resolved", lambda: not cluster.admin.get("nodegroup", "e2e-pool")
                   .get("status", {}).get("inFlight"), timeout=60)
        wait_until("the pod scheduled on the new node", lambda: cluster.admin.get(
            "pod", "needs-pool", namespace)["spec"].get("nodeName") == in_flight["name"], timeout=60)
        status = cluster.admin.get("nodegroup", "e2e-pool")["status"]
        for entry in status.get("nodes", []):
            assert {"name", "state"} <= set(entry), entry
    finally:
        cluster.admin.run("delete", "nodegroup", "e2e-pool", check=False)
