"""The PDB guard against the real disruption controller, Eviction API and garbage collector."""

import json
import pathlib
import subprocess

import pytest

from conftest import wait_until
from test_webhook import deployment, scaled_object


def pdb(cluster, namespace, workload):
    return cluster.admin.get("pdb", f"{workload}-ballast", namespace, check=False)


def budget(cluster, namespace, workload):
    found = pdb(cluster, namespace, workload)
    if not found:
        return None
    spec = found["spec"]
    return {key: spec[key] for key in ("minAvailable", "maxUnavailable") if key in spec}


def evict(cluster, namespace, pod):
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
    return cluster.admin.run("create", "--raw", f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction",
                             "-f", "-", stdin=json.dumps(body), check=False)


def running_pods(cluster, namespace, app):
    pods = cluster.admin.run("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json")
    return [p["metadata"]["name"] for p in json.loads(pods.stdout)["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def test_a_workload_gets_its_tiers_pdb_owned_by_it_and_the_disruption_controller_agrees(cluster, ballast, nodes,
                                                                                        namespace):
    cluster.admin.create(deployment("web", "standard", replicas=3), "-n", namespace)
    wait_until("web's PDB", lambda: budget(cluster, namespace, "web") == {"minAvailable": 1})
    owner = pdb(cluster, namespace, "web")["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("Deployment", "web", True)
    status = wait_until("disruptionsAllowed 2", lambda: (lambda s: s if s.get("disruptionsAllowed") == 2 else None)(
        pdb(cluster, namespace, "web").get("status", {})), timeout=90)
    assert status["expectedPods"] == 3 and status["currentHealthy"] == 3


def test_evictions_are_allowed_and_refused_as_the_tier_intends(cluster, ballast, nodes, namespace):
    cluster.admin.create(deployment("pair", "standard", replicas=2), "-n", namespace)
    wait_until("pair's PDB allows one disruption", lambda: pdb(cluster, namespace, "pair") and
               pdb(cluster, namespace, "pair").get("status", {}).get("disruptionsAllowed") == 1, timeout=90)
    first, second = wait_until("two running pods", lambda: running_pods(cluster, namespace, "pair")[:2]
                               if len(running_pods(cluster, namespace, "pair")) >= 2 else None, timeout=60)
    # As in a drain, the nodes are cordoned: a replacement cannot start, so the budget is
    # spent (kwok would otherwise run the replacement at once and restore it).
    for node in nodes:
        cluster.admin.run("cordon", node)
    try:
        allowed = evict(cluster, namespace, first)
        assert allowed.returncode == 0, allowed.stderr
        refused = evict(cluster, namespace, second)
        assert refused.returncode != 0 and "disruption budget" in refused.stderr, refused.stderr
    finally:
        for node in nodes:
            cluster.admin.run("uncordon", node)


def test_the_pdb_follows_replicas_and_scaledobjects(cluster, ballast, nodes, namespace):
    cluster.admin.create(deployment("elastic", "standard", replicas=1), "-n", namespace)
    wait_until("a 1-replica budget", lambda: budget(cluster, namespace, "elastic") == {"maxUnavailable": 1})
    cluster.admin.run("scale", "deployment", "elastic", "-n", namespace, "--replicas=3")
    wait_until("the tier's budget at 3 replicas", lambda: budget(cluster, namespace, "elastic") == {"minAvailable": 1})
    so = scaled_object("elastic", {"source": "sessions", "counter": "calls", "threshold": "5"})
    so["spec"]["minReplicaCount"] = 2
    cluster.admin.create(so, "-n", namespace)
    wait_until("KEDA's min 2 budget", lambda: budget(cluster, namespace, "elastic") == {"maxUnavailable": "50%"})
    cluster.admin.run("patch", "scaledobject", "elastic", "-n", namespace, "--type=merge",
                      "-p", json.dumps({"spec": {"minReplicaCount": 0}}))
    wait_until("KEDA's min 0 budget", lambda: budget(cluster, namespace, "elastic") == {"maxUnavailable": 1})


def test_the_tiers_keda_budgets_come_from_the_policy_and_never_block_every_eviction(cluster, ballast, nodes,
                                                                                  namespace):
    # examples/policy.yaml: realtime (Signaling, Auth) keeps minAvailable 1 under KEDA;
    # assessment gets minAvailable 50% at minReplicaCount >= 2.
    cluster.admin.create(deployment("signaling", "realtime", replicas=3), "-n", namespace)
    cluster.admin.create(deployment("assessment", "assessment", replicas=4), "-n", namespace)
    for name, minimum in (("signaling", 2), ("assessment", 2)):
        so = scaled_object(name, {"source": "sessions", "counter": "calls", "threshold": "5"})
        so["spec"]["minReplicaCount"] = minimum
        cluster.admin.create(so, "-n", namespace)
    wait_until("realtime's min-2 budget", lambda: budget(cluster, namespace, "signaling") == {"minAvailable": 1})
    wait_until("assessment's min-2 budget", lambda: budget(cluster, namespace, "assessment") == {"minAvailable": "50%"})
    cluster.admin.run("patch", "scaledobject", "signaling", "-n", namespace, "--type=merge",
                      "-p", json.dumps({"spec": {"minReplicaCount": 0}}))
    wait_until("realtime's min-0 budget", lambda: budget(cluster, namespace, "signaling") == {"minAvailable": 1})
    # At one replica minAvailable 1 would block every eviction: the guard clamps it.
    cluster.admin.run("scale", "deployment", "signaling", "-n", namespace, "--replicas=1")
    wait_until("the clamped budget", lambda: budget(cluster, namespace, "signaling") == {"maxUnavailable": 1})
    wait_until("the disruption controller allows the eviction", lambda: pdb(cluster, namespace, "signaling").get(
        "status", {}).get("disruptionsAllowed") == 1, timeout=90)


def test_pods_no_workload_owns_get_the_budget_of_the_policys_pdb_targets(cluster, ballast, nodes):
    # examples/policy.yaml: pdbTargets pg-main in databases, {cnpg.io/cluster: pg-main}, quorum.
    # Bare pods stand in for an operator's: the disruption controller finds no scalable
    # controller for them, so only an integer minAvailable works.
    cluster.admin.run("create", "namespace", "databases", check=False)
    names = [f"pg-main-{i}" for i in range(1, 4)]
    try:
        for name in names:
            cluster.admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": name, "labels": {"cnpg.io/cluster": "pg-main", "app": name}},
                "spec": {"containers": [{"name": "pg", "image": "registry.invalid/postgres:16"}]}}, "-n", "databases")
        wait_until("quorum of 3", lambda: budget(cluster, "databases", "pg-main") == {"minAvailable": 2})
        found = pdb(cluster, "databases", "pg-main")
        assert found["metadata"]["labels"]["ballast.dev/pdb-target"] == "pg-main"
        assert "ownerReferences" not in found["metadata"]
        wait_until("the disruption controller allows one", lambda: pdb(cluster, "databases", "pg-main").get(
            "status", {}).get("disruptionsAllowed") == 1, timeout=90)
        wait_until("pg-main-1 running", lambda: "pg-main-1" in running_pods(cluster, "databases", "pg-main-1"))
        allowed = evict(cluster, "databases", "pg-main-1")
        assert allowed.returncode == 0, allowed.stderr
        # Two left: a quorum of 2 would block every eviction, so the guard writes 1.
        wait_until("the budget over two pods", lambda: budget(cluster, "databases", "pg-main") == {"minAvailable": 1})
    finally:
        cluster.admin.run("delete", "pods", "-n", "databases", "-l", "cnpg.io/cluster=pg-main", "--grace-period=0",
                          "--force", check=False)


def test_deleting_the_workload_garbage_collects_its_pdb(cluster, ballast, nodes, namespace):
    cluster.admin.create(deployment("gone", "standard", replicas=2), "-n", namespace)
    wait_until("gone's PDB", lambda: pdb(cluster, namespace, "gone"))
    cluster.admin.run("delete", "deployment", "gone", "-n", namespace)
    wait_until("the garbage collector removes the PDB", lambda: pdb(cluster, namespace, "gone") is None, timeout=60)


# VerticalPodAutoscalers: the VPA CRD from the VPA Go module (tests/e2e/vpa, pinned with a
# go.sum) installed into the real apiserver; VPA itself does not run. examples/policy.yaml's
# ai-inference tier has a vpa block; the guard finds the CRD on its next pass.

@pytest.fixture(scope="module")
def vpa_crd(cluster):
    crd = subprocess.run([str(pathlib.Path(__file__).parent / "vpa" / "crds.sh")], capture_output=True, text=True,
                         check=True).stdout.strip()
    cluster.admin.run("apply", "--server-side", "-f", crd)
    cluster.admin.run("wait", "--for=condition=Established", "crd/verticalpodautoscalers.autoscaling.k8s.io",
                      "--timeout=60s")


def vpa(cluster, namespace, name):
    return cluster.admin.get("verticalpodautoscaler", name, namespace, check=False)


def event_messages(cluster, namespace, reason):
    events = cluster.admin.get("events", None, namespace, check=False) or {"items": []}
    return [e["message"] for e in events["items"] if e.get("reason") == reason]


def test_a_tier_workload_gets_a_vpa_with_the_tiers_bounds_owned_by_it(cluster, ballast, vpa_crd, namespace):
    cluster.admin.create(deployment("infer", "ai-inference", replicas=1), "-n", namespace)
    found = wait_until("infer's VPA", lambda: vpa(cluster, namespace, "infer-ballast"), timeout=90)
    spec = found["spec"]
    assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "infer"}
    assert spec["updatePolicy"] == {"updateMode": "Initial"}
    assert spec["resourcePolicy"]["containerPolicies"] == [{
        "containerName": "*", "controlledResources": ["cpu", "memory"],
        "minAllowed": {"cpu": "100m", "memory": "256Mi"}, "maxAllowed": {"cpu": "2", "memory": "4Gi"}}]
    assert found["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ballast"
    owner = found["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("Deployment", "infer", True)
    # A tier without a vpa block gets none.
    cluster.admin.create(deployment("plain", "standard", replicas=1), "-n", namespace)
    wait_until("plain's PDB", lambda: pdb(cluster, namespace, "plain"))
    assert vpa(cluster, namespace, "plain-ballast") is None


def test_skip_vpa_opts_out_and_removes_ballasts_vpa(cluster, ballast, vpa_crd, namespace):
    cluster.admin.create(deployment("infer", "ai-inference", replicas=1), "-n", namespace)
    wait_until("infer's VPA", lambda: vpa(cluster, namespace, "infer-ballast"), timeout=90)
    cluster.admin.run("annotate", "deployment", "infer", "-n", namespace, "ballast.dev/skip=vpa")
    wait_until("the VPA deleted", lambda: vpa(cluster, namespace, "infer-ballast") is None, timeout=60)
    assert pdb(cluster, namespace, "infer")  # skip lists vpa only: the PDB stays


def test_no_vpa_for_a_workload_keda_scales_on_cpu(cluster, ballast, vpa_crd, namespace):
    cluster.admin.create(deployment("infer", "ai-inference", replicas=1), "-n", namespace)
    wait_until("infer's VPA", lambda: vpa(cluster, namespace, "infer-ballast"), timeout=90)
    so = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "infer"},
          "spec": {"scaleTargetRef": {"name": "infer"}, "minReplicaCount": 1,
                   "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}}
    cluster.admin.create(so, "-n", namespace)
    wait_until("the VPA deleted under a cpu trigger", lambda: vpa(cluster, namespace, "infer-ballast") is None,
               timeout=60)
    # A new workload scaled on cpu from the start never gets one.
    cluster.admin.create(deployment("fresh", "ai-inference", replicas=1), "-n", namespace)
    so["metadata"]["name"] = so["spec"]["scaleTargetRef"]["name"] = "fresh"
    cluster.admin.create(so, "-n", namespace)
    wait_until("the guard's note on fresh", lambda: any(
        "ScaledObject fresh scales it on cpu" in m for m in event_messages(cluster, namespace, "VpaResourceScaled")))
    cluster.admin.run("delete", "scaledobject", "infer", "-n", namespace)
    wait_until("infer's VPA back once nothing scales it on cpu", lambda: vpa(cluster, namespace, "infer-ballast"),
               timeout=90)
    assert vpa(cluster, namespace, "fresh-ballast") is None


def test_a_foreign_vpa_targeting_the_workload_is_respected(cluster, ballast, vpa_crd, namespace):
    mine = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "mine"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "infer"},
                     "updatePolicy": {"updateMode": "Off"}}}
    cluster.admin.create(mine, "-n", namespace)
    cluster.admin.create(deployment("infer", "ai-inference", replicas=1), "-n", namespace)
    messages = wait_until("the guard yields", lambda: event_messages(cluster, namespace, "VpaForeign"), timeout=90)
    assert "VerticalPodAutoscaler mine already targets it" in messages[0], messages
    assert vpa(cluster, namespace, "infer-ballast") is None
    assert vpa(cluster, namespace, "mine")["spec"]["updatePolicy"] == {"updateMode": "Off"}


def test_deleting_the_workload_garbage_collects_its_vpa(cluster, ballast, vpa_crd, namespace):
    cluster.admin.create(deployment("gone", "ai-inference", replicas=1), "-n", namespace)
    wait_until("gone's VPA", lambda: vpa(cluster, namespace, "gone-ballast"), timeout=90)
    cluster.admin.run("delete", "deployment", "gone", "-n", namespace)
    wait_until("the garbage collector removes the VPA", lambda: vpa(cluster, namespace, "gone-ballast") is None,
               timeout=60)
