"""The node pool against the real kube-scheduler: a provider pipeline on loopback that
"boots" each VM ballast orders as a kwok Node, pods the scheduler marks Unschedulable, and
scale-down that never strands a pod with required anti-affinity or a node-bound volume.
Timings are printed (pytest -s shows them), not asserted."""

import base64
import time

import pytest

from conftest import NAMESPACE, Poller, wait_until
from fake_clouds import GROUP_LABEL, Joiner
from test_nodegroup import DispatchPipeline, pipeline  # noqa: F401  (the dispatch endpoint fixture)


class Booter(Poller):
    """The pipeline's other half: every VM in a NodeGroup's status.inFlight joins, after
    `delay` seconds, as a kwok Node carrying the group's labels (as cloud-init would)."""

    def __init__(self, cluster, group, labels, delay=1.0, cpu="8", memory="16Gi"):
        super().__init__(0.2)
        self.group, self.labels, self.delay, self.cpu, self.memory = group, labels, delay, cpu, memory
        self.cluster, self.joiner = cluster, Joiner(cluster, delay)
        self.booted = {}  # node name → monotonic time it was seen in flight
        self.most_in_flight = 0  # the most VMs in flight at once (ordered in one pass)

    def poll(self):
        group = self.cluster.admin.get("nodegroup", self.group, check=False) or {}
        in_flight = group.get("status", {}).get("inFlight", [])
        self.most_in_flight = max(self.most_in_flight, len(in_flight))
        for entry in in_flight:
            name = entry["name"]
            if name not in self.booted:
                self.booted[name] = time.monotonic()
                self.joiner.join(name, {GROUP_LABEL: self.group, **self.labels}, self.cpu, self.memory)

    def close(self):
        self.joiner.settle()


def node_group(name, pipeline_url, labels, max_nodes=3, scale_down=None):
    return {"apiVersion": "ballast.dev/v1alpha1", "kind": "NodeGroup", "metadata": {"name": name},
            "spec": {"minNodes": 0, "maxNodes": max_nodes,
                     "provider": {"type": "dispatch",
                                  "credentialsSecret": {"name": "e2e-dispatch", "namespace": NAMESPACE},
                                  "dispatch": {"url": pipeline_url, "eventType": "ballast-scale"}},
                     "offerings": [{"id": "cx42", "cpu": "8", "memory": "16Gi", "maxPods": 110}],
                     "labels": labels, "scaleUp": {"podAgeSeconds": 0}, "provisionTimeoutSeconds": 1800,
                     **({"scaleDown": scale_down} if scale_down else {})}}


def deployment(name, replicas, selector, anti_affinity=True, volume_claim=None, cpu="1"):
    spec = {"nodeSelector": selector,
            "containers": [{"name": "main", "image": "registry.invalid/db:1",
                            "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}]}
    if anti_affinity:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": name}}, "topologyKey": "kubernetes.io/hostname"}]}}
    if volume_claim:
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": volume_claim}}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def pods_of(cluster, namespace, app):
    return [p for p in cluster.admin.get("pods", namespace=namespace)["items"]
            if p["metadata"].get("labels", {}).get("app") == app]


@pytest.fixture
def dispatch_secret(cluster):
    cluster.admin.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "e2e-dispatch", "namespace": NAMESPACE},
                         "data": {"token": base64.b64encode(b"e2e-dispatch-token").decode()}})


def test_anti_affine_replicas_get_one_new_node_each(cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    """Two 1-core replicas fit one 8-core node by resources, but required hostname
    anti-affinity keeps them apart: ballast orders two nodes, the scheduler binds one
    replica to each, and no third node is ordered."""
    suffix = namespace[-6:]
    group, pool = f"anti-{suffix}", f"anti-{suffix}"
    cluster.admin.apply(node_group(group, pipeline, {"workload-type": pool}))
    try:
        with Booter(cluster, group, {"workload-type": pool}) as booter:
            started = time.monotonic()
            cluster.admin.apply(deployment("pg", 2, {"workload-type": pool}), "-n", namespace)
            wait_until("a provider create request", lambda: DispatchPipeline.events, timeout=90)
            ordered = time.monotonic()
            bound = wait_until("both replicas bound", lambda: (lambda pods: pods if len(pods) == 2 and all(
                p["spec"].get("nodeName") for p in pods) else None)(pods_of(cluster, namespace, "pg")), timeout=120)
            scheduled = time.monotonic()
            hosts = {p["spec"]["nodeName"] for p in bound}
            assert len(hosts) == 2, hosts
            assert hosts <= set(booter.booted), (hosts, booter.booted)
            wait_until("in-flight cleared", lambda: not cluster.admin.get("nodegroup", group)
                       .get("status", {}).get("inFlight"), timeout=60)
            time.sleep(5)  # a few reconcile passes: nothing more is ordered
            assert len(booter.booted) == 2, booter.booted
            # Both in the first scale-up: one node for both (and a second for the replica
            # the scheduler then leaves pending) would be the packing without anti-affinity.
            assert booter.most_in_flight == 2, booter.most_in_flight
        print(f"\n[timing] anti-affinity scale-up: pending → create request {ordered - started:.2f} s, "
              f"→ both replicas bound {scheduled - started:.2f} s (boot delay {booter.delay} s)")
    finally:
        cluster.admin.run("delete", "deployment", "pg", "-n", namespace, "--wait=false", check=False)
        cluster.admin.run("delete", "nodegroup", group, check=False)
        for name in list(booter.booted):
            cluster.admin.run("delete", "node", name, "--wait=false", check=False)


def test_scale_down_keeps_nodes_whose_pods_cannot_move(cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    """Three idle nodes of a group: two run one anti-affine replica each (neither can move
    next to the other), the third a pod on a local PersistentVolume pinned to it. All three
    stay, reported blocked with the reason, and every pod keeps its node."""
    suffix = namespace[-6:]
    group, pool = f"keep-{suffix}", f"keep-{suffix}"
    db, disk = [f"keep-{suffix}-1", f"keep-{suffix}-2"], f"keep-{suffix}-3"
    # Scale-down starts once the pods run: empty new nodes would (rightly) go at once.
    scale_down = {"enabled": False, "utilizationThreshold": 0.5, "unneededSeconds": 0, "delayAfterAddSeconds": 0}
    cluster.admin.apply(node_group(group, pipeline, {"workload-type": pool}, scale_down=scale_down))
    try:
        cluster.add_nodes(db, cpu="8", memory="16Gi", labels={GROUP_LABEL: group, "workload-type": pool, "role": "db"})
        cluster.add_nodes([disk], cpu="8", memory="16Gi", labels={GROUP_LABEL: group, "workload-type": pool})
        pv, claim = f"local-{suffix}", "data"
        cluster.admin.apply({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                      "storageClassName": "", "local": {"path": f"/var/lib/{pv}"},
                                      "claimRef": {"namespace": namespace, "name": claim},
                                      "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                          {"key": "kubernetes.io/hostname", "operator": "In", "values": [disk]}]}]}}}})
        cluster.admin.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
                             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                                      "resources": {"requests": {"storage": "1Gi"}}}}, "-n", namespace)
        cluster.admin.apply(deployment("pg", 2, {"role": "db"}), "-n", namespace)
        cluster.admin.apply(deployment("files", 1, {"workload-type": pool}, anti_affinity=False, volume_claim=claim),
                            "-n", namespace)
        placed = wait_until("all pods bound", lambda: (lambda pods: pods if len(pods) == 3 and all(
            p["spec"].get("nodeName") for p in pods) else None)(
            pods_of(cluster, namespace, "pg") + pods_of(cluster, namespace, "files")), timeout=90)
        where = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in placed}
        assert sorted(n for n in where.values() if n in db) == sorted(db), where
        assert disk in where.values(), where
        cluster.admin.apply(node_group(group, pipeline, {"workload-type": pool}, scale_down={**scale_down, "enabled": True}))
        started = time.monotonic()

        def blocked():
            status = cluster.admin.get("nodegroup", group).get("status", {})
            states = {n["name"]: n for n in status.get("nodes", [])}
            return states if all(states.get(n, {}).get("state") == "blocked" for n in db + [disk]) else None

        states = wait_until("all three nodes reported blocked", blocked, timeout=90)
        for name in db:
            assert "pod-anti-affinity" in states[name].get("reason", ""), states[name]
        assert pv in states[disk].get("reason", ""), states[disk]
        time.sleep(5)  # more passes: still nothing drained
        for name in db + [disk]:
            node = cluster.admin.get("node", name)
            assert not node["spec"].get("unschedulable"), f"{name} was cordoned"
        now = {p["metadata"]["name"]: p["spec"].get("nodeName")
               for p in pods_of(cluster, namespace, "pg") + pods_of(cluster, namespace, "files")}
        assert now == where, (now, where)
        print(f"\n[timing] scale-down safety: blocked reasons read back {time.monotonic() - started:.2f} s "
              "after scale-down was enabled (5 s of passes included)")
    finally:
        cluster.admin.run("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.admin.run("delete", "nodegroup", group, check=False)
        cluster.admin.run("delete", "pv", f"local-{suffix}", "--wait=false", check=False)
        for name in db + [disk]:
            cluster.admin.run("delete", "node", name, "--wait=false", check=False)
