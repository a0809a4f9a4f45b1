"""Measurements of the node pool on the real scheduler, printed (pytest -s), not asserted.

- test_pending_pod_to_provider_create_request: BALLAST_SCALE_TRIALS trials (default 1, so
  `make test` stays fast; bench/scale_scheduler.sh runs 50) of one pod the scheduler marks
  Unschedulable → ballast's dispatch to the pipeline.
- test_200_nodes_3000_pods_500_pending: opt-in (BALLAST_SCALE_BENCH=1, which
  bench/scale_scheduler.sh sets): 200 full kwok nodes of a group running 3,000 pods, then
  500 pods of mixed sizes that fit none; ballast orders nodes, a bulk booter registers
  them, the scheduler binds everything. Results go to bench/RESULTS.md by hand.

Objects are written straight to the apiserver over one keep-alive HTTPS connection (admin
client certificate), so timings start when the apiserver has the pod, not when a kubectl
process has started."""

import json
import math
import os
import statistics
import time

import pytest

from conftest import Api, Poller, kwok_node, wait_until
from test_nodegroup import DispatchPipeline, pipeline  # noqa: F401  (the dispatch endpoint fixture)
from test_scale_scheduler import GROUP_LABEL, dispatch_secret, node_group  # noqa: F401


def pod(name, app, selector, cpu, memory, node=None):
    spec = {"nodeSelector": selector, "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "registry.invalid/app:1",
                            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
    if node:
        spec["nodeName"] = node  # placed already: the cluster as it runs, not a scheduling test
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}}, "spec": spec}


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_pending_pod_to_provider_create_request(cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    """Each trial: a fresh group with no node, one pod only it could take; the time from the
    apiserver accepting the pod to ballast's request reaching the pipeline (the scheduler
    marks the pod Unschedulable, ballast's watch and 0.5 s debounce, one pass)."""
    trials = int(os.environ.get("BALLAST_SCALE_TRIALS", "1"))
    api = Api(cluster)
    latencies = []
    try:
        for trial in range(trials):
            group = f"lat-{namespace[-6:]}-{trial}"
            cluster.admin.apply(node_group(group, pipeline, {"workload-type": group}, max_nodes=1))
            # The group's status shows ballast has it; otherwise the trial would time the informer too.
            wait_until(f"{group} seen by ballast", lambda: (cluster.admin.get("nodegroup", group).get("status") or {})
                       .get("conditions"), timeout=60)
            seen = len(DispatchPipeline.events)
            api.create_pod(namespace, pod(f"p-{trial}", "lat", {"workload-type": group}, "1", "1Gi"))
            created = time.monotonic()
            event = wait_until("the create request", lambda: next(
                (e for e in DispatchPipeline.events[seen:] if e["body"]["client_payload"].get("nodegroup") == group), None),
                timeout=60, interval=0.005)
            latencies.append(time.monotonic() - created)
            assert event["body"]["client_payload"]["direction"] == "up", event
            cluster.admin.run("delete", "pod", f"p-{trial}", "-n", namespace, "--wait=false")
            cluster.admin.run("delete", "nodegroup", group)
    finally:
        api.close()
    print(f"\n[timing] pending pod → provider create request over {len(latencies)} trial(s): "
          f"p50 {percentile(latencies, 0.50):.3f} s, p99 {percentile(latencies, 0.99):.3f} s, "
          f"min {min(latencies):.3f} s, max {max(latencies):.3f} s, mean {statistics.mean(latencies):.3f} s")


# The bench's cluster: 200 nodes of 8 cores / 16 GiB, each full with 15 pods of 533m / 1092Mi;
# 500 pending pods of four sizes, none of which fits the 5m / 4Mi left on any node.
BENCH_NODES, PODS_PER_NODE, NODE_CPU, NODE_MEMORY = 200, 15, "8", "16Gi"
PENDING_SIZES = [("250m", "512Mi"), ("500m", "1Gi"), ("1", "2Gi"), ("2", "4Gi")]
PENDING_PODS = 500
OFFERING = {"cpu": 8.0, "memory_gi": 16.0, "pods": 110}
RESERVED = {"cpu": 0.1, "memory_gi": 0.25}  # a NodeGroup's default reserved per node


def lower_bounds(sizes):
    """ceil(total requests / per-node room), per resource, against the offering's capacity and
    against the allocatable ballast plans with (capacity − reserved)."""
    cpu = sum(float(c[:-1]) / 1000 if c.endswith("m") else float(c) for c, _ in sizes)
    memory = sum(float(m[:-2]) / 1024 if m.endswith("Mi") else float(m[:-2]) for _, m in sizes)
    return {"capacity": {"cpu": math.ceil(cpu / OFFERING["cpu"]), "memory": math.ceil(memory / OFFERING["memory_gi"]),
                         "pods": math.ceil(len(sizes) / OFFERING["pods"])},
            "allocatable": {"cpu": math.ceil(cpu / (OFFERING["cpu"] - RESERVED["cpu"])),
                            "memory": math.ceil(memory / (OFFERING["memory_gi"] - RESERVED["memory_gi"])),
                            "pods": math.ceil(len(sizes) / OFFERING["pods"])},
            "requests": {"cpu": cpu, "memory_gi": memory}}


class BulkBooter(Poller):
    """Registers every VM in the group's status.inFlight as a kwok Node as soon as it is seen
    (a pipeline that boots in bulk), over its own apiserver connection."""

    def __init__(self, cluster, group, labels):
        super().__init__(0.2)
        self.group, self.labels = group, labels
        self.api = Api(cluster)
        self.booted = {}  # node name → monotonic time it was registered

    def poll(self):
        group = self.api.call("GET", f"/apis/ballast.dev/v1alpha1/nodegroups/{self.group}")
        for entry in group.get("status", {}).get("inFlight", []):
            if entry["name"] not in self.booted:
                self.api.create_node(kwok_node(entry["name"], NODE_CPU, NODE_MEMORY,
                                               {GROUP_LABEL: self.group, **self.labels}))
                self.booted[entry["name"]] = time.monotonic()

    def close(self):
        self.api.close()


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(os.environ.get("BALLAST_SCALE_BENCH") != "1", reason="opt-in: bench/scale_scheduler.sh")
def test_200_nodes_3000_pods_500_pending(cluster, ballast, nodes, namespace, pipeline, dispatch_secret):
    group = pool = f"bench-{namespace[-6:]}"
    labels = {"workload-type": pool}
    selector = {"workload-type": pool}
    manifest = node_group(group, pipeline, labels, max_nodes=BENCH_NODES + 200)
    cluster.admin.apply(manifest)
    api = Api(cluster)
    names = [f"{group}-{i:03d}" for i in range(BENCH_NODES)]
    try:
        setup = time.monotonic()
        for name in names:
            api.create_node(kwok_node(name, NODE_CPU, NODE_MEMORY, {GROUP_LABEL: group, **labels}))
        for i, name in enumerate(names):
            for j in range(PODS_PER_NODE):
                api.create_pod(namespace, pod(f"run-{i:03d}-{j:02d}", "running", selector, "533m", "1092Mi", node=name))
        wait_until("3,000 pods Running", lambda: sum(
            1 for p in api.pods(namespace, "app=running") if p.get("status", {}).get("phase") == "Running")
            >= BENCH_NODES * PODS_PER_NODE, timeout=900, interval=5)
        print(f"\n[bench] 200 nodes + 3,000 running pods set up in {time.monotonic() - setup:.1f} s")
        time.sleep(15)  # a quiet pass or two over the full cluster before the burst
        idle_pass = ballast.metric("ballast_function_duration_seconds")
        rss_before = rss_kib(ballast.proc.pid)

        sizes = [PENDING_SIZES[i % len(PENDING_SIZES)] for i in range(PENDING_PODS)]
        bounds = lower_bounds(sizes)
        passes, rss_peak = [], rss_before
        with BulkBooter(cluster, group, labels) as booter:
            started = time.monotonic()
            for i, (cpu, memory) in enumerate(sizes):
                api.create_pod(namespace, pod(f"pending-{i:03d}", "pending", selector, cpu, memory))
            created = time.monotonic()
            deadline = started + 900
            while time.monotonic() < deadline:
                passes.append(ballast.metric("ballast_function_duration_seconds"))
                rss_peak = max(rss_peak, rss_kib(ballast.proc.pid))
                pending = [p for p in api.pods(namespace, "app=pending") if not p["spec"].get("nodeName")]
                if not pending:
                    break
                time.sleep(1)
            scheduled = time.monotonic()
            assert not pending, f"{len(pending)} pods still pending after 900 s"
            wait_until("in-flight cleared", lambda: not api.call(
                "GET", f"/apis/ballast.dev/v1alpha1/nodegroups/{group}").get("status", {}).get("inFlight"), timeout=120)
            time.sleep(10)  # more passes: nothing more is ordered
            ordered = len(booter.booted)
            first_order = min(booter.booted.values())  # seen in flight within 0.2 s of the order
        used = {p["spec"]["nodeName"] for p in api.pods(namespace, "app=pending")}
        print(f"[bench] 500 pending pods ({bounds['requests']['cpu']:.2f} cores, "
              f"{bounds['requests']['memory_gi']:.1f} GiB requested): created in {created - started:.1f} s; "
              f"first node ordered {first_order - started:.2f} s after the first pod; "
              f"all scheduled {scheduled - started:.1f} s after the first pod ({scheduled - created:.1f} s after the last)")
        print(f"[bench] nodes ordered {ordered} (the pending pods run on {len(used)}); lower bound "
              f"capacity {bounds['capacity']}, allocatable {bounds['allocatable']}; create requests "
              f"{len(DispatchPipeline.events)}")
        print(f"[bench] ballast pass duration: idle over 200 nodes {idle_pass * 1000:.0f} ms, during the burst "
              f"max {max(passes) * 1000:.0f} ms (last pass sampled each second); RSS {rss_before / 1024:.1f} MiB "
              f"before, peak {rss_peak / 1024:.1f} MiB")
        assert ordered >= bounds["capacity"]["cpu"]
    finally:
        api.close()
        cluster.admin.run("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.admin.run("delete", "nodegroup", group, check=False)
        cluster.admin.run("delete", "nodes", "-l", f"{GROUP_LABEL}={group}", "--wait=false", check=False)
