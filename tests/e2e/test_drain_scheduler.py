"""Scale-down through the real Eviction API: the disruption controller computes each PDB's
disruptionsAllowed, the apiserver enforces it on every eviction ballast asks for, the
ReplicaSet controller recreates what was evicted and the real scheduler binds it to the
nodes that stay; the VM goes through the dispatch pipeline. Timings are printed (pytest -s
shows them), not asserted."""

import datetime
import json
import time

from conftest import Api, Poller, wait_until
from test_nodegroup import DispatchPipeline, pipeline  # noqa: F401  (the dispatch endpoint fixture)
from test_scale_scheduler import GROUP_LABEL, deployment, dispatch_secret, node_group, pods_of  # noqa: F401

# Scale-down acts at once once enabled; placement is arranged with it off.
SCALE_DOWN = {"enabled": False, "utilizationThreshold": 0.5, "unneededSeconds": 0, "delayAfterAddSeconds": 0}


def pdb(name, app, min_available):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}}}


def ready(pod):
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def bound_and_ready(cluster, namespace, app, count):
    """The app's `count` pods, all bound and Ready (None until then)."""
    pods = [p for p in pods_of(cluster, namespace, app) if not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == count and all(p["spec"].get("nodeName") and ready(p) for p in pods) else None


def place(cluster, namespace, app, replicas, open_nodes, all_nodes):
    """Scales `app` to `replicas` while only `open_nodes` take pods, so the scheduler binds the
    new replicas there; every node is schedulable again afterwards."""
    for name in all_nodes:
        cluster.admin.run("cordon" if name not in open_nodes else "uncordon", name)
    cluster.admin.run("scale", "deployment", app, f"--replicas={replicas}", "-n", namespace)
    wait_until(f"{replicas} {app} pods bound and Ready", lambda: bound_and_ready(cluster, namespace, app, replicas),
               timeout=60)
    for name in all_nodes:
        cluster.admin.run("uncordon", name)


def disruptions_allowed(cluster, namespace, name, expected):
    """Waits for kcm's disruption controller to publish `expected` for the PDB."""
    return wait_until(f"PDB {name} disruptionsAllowed {expected}", lambda: (lambda b: b if b.get("status", {}).get(
        "disruptionsAllowed") == expected and b["status"].get("observedGeneration") == b["metadata"]["generation"]
        else None)(cluster.admin.get("pdb", name, namespace=namespace)), timeout=60)


def events_about(cluster, name, reason):
    """Events of `reason` about the object called `name`, in any namespace."""
    listed = cluster.admin.run("get", "events", "-A", "-o", "json", "--field-selector",
                               f"involvedObject.name={name},reason={reason}").stdout
    return json.loads(listed)["items"]


def evictions(ballast, result):
    """ballast_evicted_pods_total{result=...}: what the Eviction API answered ballast."""
    sample = f'ballast_evicted_pods_total{{result="{result}"}} '
    return sum(float(line.rsplit(" ", 1)[1]) for line in ballast.admin_get("/metrics").splitlines()
               if line.startswith(sample))


class ReadySampler(Poller):
    """Counts an app's Ready, not-terminating pods every 20 ms while a drain runs (one
    keep-alive connection to the apiserver; a kubectl per sample would miss the gap an
    eviction leaves before its replacement is Ready)."""

    def __init__(self, cluster, namespace, app):
        super().__init__(0.02)
        self.api, self.namespace, self.app = Api(cluster), namespace, app
        self.fewest, self.samples = None, 0

    def poll(self):
        count = sum(1 for p in self.api.pods(self.namespace, f"app={self.app}") if ready(p))
        self.fewest = count if self.fewest is None else min(self.fewest, count)
        self.samples += 1

    def close(self):
        self.api.close()


def sized(manifest, cpu):
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return manifest


def uids(cluster, namespace, app):
    return {p["metadata"]["uid"]: p["spec"].get("nodeName") for p in pods_of(cluster, namespace, app)}


def web_on_each_node(cluster, namespace, group, labels, everyone):
    """The group's nodes `everyone` (8 cores each), a 4-core filler on the first (so it stays
    above the 50 % threshold), one `web` replica on each node, and web's PDB: minAvailable 2."""
    cluster.add_nodes(everyone, cpu="8", memory="16Gi", labels={GROUP_LABEL: group, **labels})
    cluster.admin.apply(sized(deployment("filler", 0, labels, anti_affinity=False), "4"), "-n", namespace)
    cluster.admin.apply(deployment("web", 0, labels, anti_affinity=False), "-n", namespace)
    place(cluster, namespace, "filler", 1, everyone[:1], everyone)
    for replicas, node in enumerate(everyone, start=1):
        place(cluster, namespace, "web", replicas, [node], everyone)
    assert sorted(uids(cluster, namespace, "web").values()) == sorted(everyone)
    cluster.admin.apply(pdb("web", "web", 2), "-n", namespace)


def clean_up(cluster, namespace, group, node_names):
    cluster.admin.run("delete", "namespace", namespace, "--wait=false", check=False)
    cluster.admin.run("delete", "nodegroup", group, check=False)
    for name in node_names:
        cluster.admin.run("delete", "node", name, "--wait=false", check=False)


def down_events(group):
    """What the pipeline was asked to remove for `group`."""
    return [e["body"]["client_payload"] for e in DispatchPipeline.events
            if e["body"]["client_payload"].get("nodegroup") == group
            and e["body"]["client_payload"].get("direction") == "down"]


def test_underutilized_nodes_are_drained_through_the_eviction_api_one_disruption_at_a_time(
        cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    """Three nodes of a group: `keep` runs a 4-core filler and one `web` replica, `drain-1`
    and `drain-2` one `web` replica each (12.5 % used). web's PDB (minAvailable 2 of 3) lets
    the disruption controller allow one disruption at a time. Both light nodes are cordoned,
    tainted, emptied through the Eviction API, their replicas recreated and bound to `keep` by
    the scheduler, then the Nodes deleted and their VMs removed through the pipeline; web
    never has fewer than 2 Ready pods."""
    suffix = namespace[-6:]
    group = pool = f"drain-{suffix}"
    keep, drained = f"drain-{suffix}-k", [f"drain-{suffix}-1", f"drain-{suffix}-2"]
    everyone, labels = [keep] + drained, {"workload-type": pool}
    cluster.admin.apply(node_group(group, pipeline, labels, scale_down=SCALE_DOWN))
    try:
        web_on_each_node(cluster, namespace, group, labels, everyone)
        disruptions_allowed(cluster, namespace, "web", 1)
        evicted_before = evictions(ballast, "ok")

        with ReadySampler(cluster, namespace, "web") as sampler:
            started = time.monotonic()
            cluster.admin.apply(node_group(group, pipeline, labels, scale_down={**SCALE_DOWN, "enabled": True}))
            wait_until("both light nodes deleted", lambda: all(
                cluster.admin.get("node", name, check=False) is None for name in drained), timeout=120)
            removed = time.monotonic()
            web = wait_until("3 web pods bound and Ready", lambda: bound_and_ready(cluster, namespace, "web", 3),
                             timeout=60)
        assert sampler.samples > 50, sampler.samples
        assert sampler.fewest >= 2, f"web fell to {sampler.fewest} Ready pods: its PDB (minAvailable 2) was violated"
        assert {p["spec"]["nodeName"] for p in web} == {keep}, [p["spec"]["nodeName"] for p in web]
        assert set(uids(cluster, namespace, "filler").values()) == {keep}
        assert evictions(ballast, "ok") - evicted_before >= 2  # through pods/eviction, not a delete
        removals = down_events(group)
        assert sorted(name for payload in removals for name in payload["remove"]) == sorted(drained), removals
        assert removals[-1]["desired"] == 1, removals
        node = cluster.admin.get("node", keep)
        assert not node["spec"].get("unschedulable") and not node["spec"].get("taints"), node["spec"]
        budget = cluster.admin.get("pdb", "web", namespace=namespace)["status"]
        assert budget["currentHealthy"] == 3 and budget["disruptionsAllowed"] == 1, budget
        print(f"\n[timing] drain through the Eviction API: scale-down enabled → both nodes deleted "
              f"{removed - started:.2f} s; fewest Ready web pods {sampler.fewest} over {sampler.samples} samples; "
              f"evictions refused by the PDB {evictions(ballast, 'blocked'):.0f} (suite total)")
    finally:
        clean_up(cluster, namespace, group, everyone)


def test_a_node_whose_pdb_allows_no_disruption_stays_and_a_drain_left_on_it_is_undone(
        cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    """`held` runs one of web's two replicas and web's PDB (minAvailable 2) allows no
    disruption: the node is reported blocked with an Event naming the PDB, never cordoned, its
    pod never evicted. Then a drain left on it (tainted and cordoned as a leader that died
    mid-drain leaves it): every eviction is refused by the apiserver, and after
    maxGracefulTerminationSeconds ballast undoes the drain with an Event naming the PDB."""
    suffix = namespace[-6:]
    group = pool = f"held-{suffix}"
    keep, held = f"held-{suffix}-k", f"held-{suffix}-h"
    everyone, labels = [keep, held], {"workload-type": pool}
    scale_down = {**SCALE_DOWN, "maxGracefulTerminationSeconds": 6}
    cluster.admin.apply(node_group(group, pipeline, labels, scale_down=scale_down))
    try:
        web_on_each_node(cluster, namespace, group, labels, everyone)
        disruptions_allowed(cluster, namespace, "web", 0)
        before = uids(cluster, namespace, "web")
        pdb_ref = f"PDB {namespace}/web"  # a pod name starts with "web" too

        cluster.admin.apply(node_group(group, pipeline, labels, scale_down={**scale_down, "enabled": True}))
        blocked = wait_until("held reported blocked by the PDB", lambda: next(
            (n for n in cluster.admin.get("nodegroup", group).get("status", {}).get("nodes", [])
             if n["name"] == held and n.get("state") == "blocked" and pdb_ref in n.get("reason", "")), None), timeout=60)
        event = wait_until("a ScaleDownBlocked Event naming the PDB", lambda: next(
            (e for e in events_about(cluster, held, "ScaleDownBlocked") if pdb_ref in e["message"]), None), timeout=30)
        time.sleep(3)  # more passes: still nothing drained
        node = cluster.admin.get("node", held)
        assert not node["spec"].get("unschedulable") and not node["spec"].get("taints"), node["spec"]
        assert uids(cluster, namespace, "web") == before

        refused_before = evictions(ballast, "blocked")
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        cluster.admin.run("patch", "node", held, "--type=merge", "-p", json.dumps({
            "metadata": {"annotations": {"ballast.dev/drain-started": now}},
            "spec": {"unschedulable": True, "taints": [
                {"key": "ballast.dev/to-be-deleted", "value": str(int(time.time())), "effect": "NoSchedule"}]}}))
        started = time.monotonic()
        undone = wait_until("the drain undone", lambda: (lambda n: n if not n["spec"].get("unschedulable") and not any(
            t["key"] == "ballast.dev/to-be-deleted" for t in n["spec"].get("taints", []))
            and "ballast.dev/drain-started" not in n["metadata"].get("annotations", {}) else None)(
            cluster.admin.get("node", held)), timeout=60)
        elapsed = time.monotonic() - started
        failed = wait_until("a ScaleDownFailed Event naming the PDB", lambda: next(
            (e for e in events_about(cluster, held, "ScaleDownFailed") if pdb_ref in e["message"]), None), timeout=30)
        waiting = events_about(cluster, held, "DrainWaiting")
        assert any(pdb_ref in e["message"] for e in waiting), waiting
        assert evictions(ballast, "blocked") > refused_before  # ballast asked; the apiserver refused
        assert uids(cluster, namespace, "web") == before, "a pod of the held node was evicted"
        assert cluster.admin.get("node", held) is not None and not down_events(group), down_events(group)
        assert undone["metadata"]["name"] == held
        print(f"\n[timing] PDB-held node: blocked reason {blocked['reason']!r}; Event {event['message']!r}; "
              f"left drain undone after {elapsed:.2f} s (maxGracefulTerminationSeconds 6): {failed['message']!r}")
    finally:
        clean_up(cluster, namespace, group, everyone)
