"""Two replicas, one answer, on the real control plane: two ballast host processes find each
other in the EndpointSlices of a headless Service (--peers-service), watched through the real
apiserver with the chart's own ServiceAccount token and RBAC (a Role: endpointslices list,
watch), and answer KEDA with the sum of the sessions published to either.

What is real and what is not: the apiserver, its watch and the chart's RBAC are real; the
pods are not. kwok pods have no IPs that reach host processes, so this test makes the
Service's EndpointSlices itself (a Service without a selector, whose slices the EndpointSlice
controller leaves to their owner), one slice per process since each listens on its own port.
The apiserver refuses loopback IPs in IPv4 slices, so the slices are of addressType FQDN with
the name "127.0.0.1", which ballast dials through its resolver like any other name.

Timings print as `[peers]` lines (run with -s); they are not asserted beyond the bounds the
README promises: the machine's 2 cores are shared with builds.
"""

import json
import signal
import subprocess
import time

import pytest

from conftest import NAMESPACE, Ballast, SessionPublisher, wait_until
from kafka_fixtures import ScalerProbe
from keda_fixtures import *  # noqa: F401,F403  (kube, keda_operator)
from test_keda import apply_workload, ready_condition, replicas_become
from test_wake import Stream

SERVICE = "peers-e2e"
BOUND_SECONDS = 3.0  # ballast's expiry bound: 3 missed heartbeats of 1 s (src/peers/peer_hub.h)


def peers_service():
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE},
            "spec": {"clusterIP": "None", "ports": [{"name": "sessions", "port": 9091, "protocol": "TCP"}]}}


def peer_slice(replica, ready=True):
    """The slice that names one replica: what the EndpointSlice controller would write for a
    pod of the Service, except for the address (see the module docstring)."""
    endpoints = [] if ready is None else [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{SERVICE}-{replica.name}", "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": SERVICE,
                                    "endpointslice.kubernetes.io/managed-by": "e2e.ballast.dev"}},
            "addressType": "FQDN",
            "ports": [{"name": "sessions", "port": replica.sessions_port, "protocol": "TCP"}],
            "endpoints": endpoints}


def metadata(counter):
    return {"source": "sessions", "counter": counter, "threshold": "1"}


def total(replica, counter):
    """KEDA's GetMetrics on one replica, through `ballast probe` (KEDA's calls, its order and
    deadlines); fails the test when the call fails: a replica must never answer an error."""
    polled = ScalerProbe(f"127.0.0.1:{replica.grpc_port}").probe("peers", metadata(counter))
    assert polled["metrics"]["code"] == "OK", f"{replica.name}: {polled}"
    return polled["metrics"]["value"]


def reaches(replicas, counter, want, timeout=20.0):
    """Seconds until every replica answers `want`."""
    started = time.monotonic()
    wait_until(f"{[r.name for r in replicas]} answering {want} for {counter}",
               lambda: all(total(r, counter) == want for r in replicas), timeout=timeout, interval=0.05)
    return time.monotonic() - started


def holds(replica, counter, want, seconds):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        assert total(replica, counter) == want, f"{replica.name} no longer answers {want}"
        time.sleep(0.1)


def slice_drops_share_at_once(cluster, a, b, counter, ready, what):
    """A's slice rewritten (`ready` as in peer_slice): B answers its own 20 alone well within
    the bound (the time includes kubectl's apply), and keeps doing so past it."""
    changed = time.monotonic()
    cluster.admin.apply(peer_slice(a, ready=ready))
    reaches([b], counter, 20, timeout=BOUND_SECONDS + 10)
    seconds = time.monotonic() - changed
    print(f"[peers] {what} → B drops A's share: {seconds:.2f} s (kubectl apply included)")
    assert seconds < BOUND_SECONDS
    holds(b, counter, 20, BOUND_SECONDS)


@pytest.fixture
def replicas(cluster, installed, ballast):
    """Replicas A and B (scaler and sessions) with the chart's ServiceAccount, watching the
    slices of SERVICE; the slices are created once both listen (an endpoint added later is
    dialed at once). `ballast` is the suite's shared process: its teardown fails the suite on
    any RBAC refusal logged by any ballast, these two included."""
    cluster.admin.apply(peers_service())
    pair = [Ballast(cluster, installed["work"], name, "scaler,sessions",
                    extra_args=("--peers-service", f"{NAMESPACE}/{SERVICE}"))
            for name in ("peer-a", "peer-b")]
    for replica in pair:
        cluster.admin.apply(peer_slice(replica))
    yield pair
    for replica in pair:
        replica.stop(signal.SIGKILL if replica.proc.poll() is None else signal.SIGTERM)
    cluster.admin.run("delete", "service", SERVICE, "-n", NAMESPACE, "--wait=false", check=False)
    cluster.admin.run("delete", "endpointslice", "-n", NAMESPACE, "-l", f"kubernetes.io/service-name={SERVICE}",
                      "--wait=false", check=False)
    for replica in pair:
        refused = [line for line in replica.log_lines() if "forbidden" in line]
        assert not refused, f"{replica.name}: the chart's RBAC refused it: {refused[:3]}"


def test_two_replicas_answer_one_total_and_follow_the_endpoint_slices(cluster, replicas):
    a, b = replicas
    counter = "calls"
    on_a = SessionPublisher(a.sessions_port)
    on_a.send(counter, 300)
    on_b = SessionPublisher(b.sessions_port)
    on_b.send(counter, 20)
    seconds = reaches([a, b], counter, 320)
    print(f"\n[peers] slices created → both replicas answer the sum: {seconds:.2f} s")
    assert b.metric("ballast_peer_up") == 1 and a.metric("ballast_peer_up") == 1

    # StreamIsActive on B (as KEDA holds one per external-push trigger) wakes when a
    # publisher connects to A.
    stream = Stream(ScalerProbe(f"127.0.0.1:{b.grpc_port}"),
                    "wake", metadata("wake"))
    try:
        assert stream.next(timeout=10)["result"] is False
        sent = time.time()
        waker = SessionPublisher(a.sessions_port)
        waker.send("wake", 1)
        edge = stream.next(timeout=5)
        assert edge["result"] is True
        print(f"[peers] publish on A → StreamIsActive edge on B: {(edge['at'] - sent) * 1000:.1f} ms "
              f"(connect + upgrade + first message included)")
        assert edge["at"] - sent < 1.0
        waker.close()
    finally:
        stream.close()

    # A killed replica's share leaves B within the bound, and B never fails a call meanwhile.
    a.stop(signal.SIGKILL)
    killed = time.monotonic()
    reaches([b], counter, 20, timeout=BOUND_SECONDS + 10)
    gone = time.monotonic() - killed
    print(f"[peers] kill -9 A → B drops A's share: {gone:.2f} s (bound {BOUND_SECONDS:.0f} s)")
    assert gone <= BOUND_SECONDS + 2

    # A restarted at the same address rejoins; its publishers reconnect to it.
    a.start()
    on_a = SessionPublisher(a.sessions_port)
    on_a.send(counter, 300)
    reaches([a, b], counter, 320)

    # An endpoint that stops being ready is no peer: its share leaves at once, far below the
    # bound, though A is alive and keeps dialing B (B refuses it until it is in the slices again).
    slice_drops_share_at_once(cluster, a, b, counter, ready=False, what="A's endpoint not ready")
    cluster.admin.apply(peer_slice(a, ready=True))
    back = reaches([a, b], counter, 320)
    print(f"[peers] A's endpoint ready again → both answer the sum: {back:.2f} s")
    # An endpoint removed from its slice: the same.
    slice_drops_share_at_once(cluster, a, b, counter, ready=None, what="A's endpoint removed from the slice")
    on_a.close()
    on_b.close()


def test_keda_scales_from_zero_through_one_replica_while_sessions_are_published_to_the_other(
        cluster, kube, keda_operator, replicas, namespace):
    a, b = replicas
    name, counter = "signaling", "live"
    trigger = {"scalerAddress": f"127.0.0.1:{b.grpc_port}", **metadata(counter)}
    apply_workload(kube, namespace, name, "external-push", trigger)
    wait_until("the ScaledObject to be Ready", lambda: ready_condition(kube, namespace, name) == "True", timeout=60)
    assert kube.replicas(namespace, name) == 0

    published = time.monotonic()
    on_a = SessionPublisher(a.sessions_port)
    on_a.send(counter, 5)
    woke = replicas_become(kube, namespace, name, 1, timeout=60)
    print(f"\n[peers] publish on A → KEDA (asking B) sets spec.replicas=1: {woke:.2f} s")

    closed = time.monotonic()
    on_a.close()
    back = replicas_become(kube, namespace, name, 0, timeout=90)
    print(f"[peers] publisher on A gone → spec.replicas=0: {back:.2f} s "
          f"(cooldownPeriod included; published {closed - published:.1f} s before)")
