"""The PDB guard against the real disruption controller, Eviction API and garbage collector."""

import json

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
    allowed = evict(cluster, namespace, first)
    assert allowed.returncode == 0, allowed.stderr
    refused = evict(cluster, namespace, second)
    assert refused.returncode != 0 and "disruption budget" in refused.stderr, refused.stderr


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


def test_deleting_the_workload_garbage_collects_its_pdb(cluster, ballast, nodes, namespace):
    cluster.admin.create(deployment("gone", "standard", replicas=2), "-n", namespace)
    wait_until("gone's PDB", lambda: pdb(cluster, namespace, "gone"))
    cluster.admin.run("delete", "deployment", "gone", "-n", namespace)
    wait_until("the garbage collector removes the PDB", lambda: pdb(cluster, namespace, "gone") is None, timeout=60)
