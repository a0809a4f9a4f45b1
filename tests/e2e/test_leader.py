"""Two ballast processes on the real Lease: one writes, the other takes over."""

import contextlib
import signal
import time

import pytest

from conftest import NAMESPACE, Ballast, wait_until
from test_guard import budget
from test_webhook import deployment

LEASE_SECONDS = 15  # ballast's leaseDuration (src/kube/leader_election.h)


def holder(cluster):
    """The pod name part of the Lease's holder (ballast's identity is `<pod>_<random>`)."""
    lease = cluster.admin.get("lease", "ballast-leader", NAMESPACE, check=False)
    identity = (lease or {}).get("spec", {}).get("holderIdentity") or ""
    return identity.rsplit("_", 1)[0] or None


@contextlib.contextmanager
def replicas(cluster, installed, ballast, components, names=("replica-a", "replica-b")):
    """Two replicas running `components`; the shared session ballast steps out of the
    election while they run (it keeps the webhook), so the pair competes alone."""
    ballast.stop()
    started = []
    try:
        for name in names:
            started.append(Ballast(cluster, installed["work"], name, components))
        yield started
    finally:
        for replica in started:
            replica.stop()  # SIGTERM releases the Lease: the shared ballast leads at once, not after expiry
        ballast.start()


@pytest.fixture
def pair(cluster, installed, ballast):
    """Two guard-only replicas."""
    with replicas(cluster, installed, ballast, "guard") as started:
        yield started


def leaders(processes):
    return [r for r in processes if r.proc.poll() is None and r.metric("ballast_leader") == 1]


def test_exactly_one_replica_leads_and_a_killed_leader_is_replaced_within_the_lease(cluster, pair, namespace):
    wait_until("a leader", lambda: holder(cluster) in ("replica-a", "replica-b"), timeout=LEASE_SECONDS * 3)
    wait_until("exactly one replica reporting leadership", lambda: len(leaders(pair)) == 1)
    leader = leaders(pair)[0]
    follower = next(r for r in pair if r is not leader)
    assert holder(cluster) == leader.name
    # Only the leader writes: the follower's guard records no actions.
    cluster.admin.create(deployment("led", "standard", replicas=2), "-n", namespace)
    wait_until("the leader's PDB", lambda: budget(cluster, namespace, "led"))
    assert follower.metric("ballast_guard_actions_total") == 0

    leader.proc.kill()
    killed_at = time.monotonic()
    wait_until("the follower takes over", lambda: holder(cluster) == follower.name, timeout=LEASE_SECONDS + 10)
    takeover = time.monotonic() - killed_at
    print(f"takeover after kill -9: {takeover:.1f} s (lease {LEASE_SECONDS} s)")
    assert takeover <= LEASE_SECONDS + 2 * 2  # the lease, plus one retry period of slack each side
    cluster.admin.create(deployment("after", "standard", replicas=2), "-n", namespace)
    wait_until("the new leader's PDB", lambda: budget(cluster, namespace, "after"))


def test_sigterm_hands_the_lease_over_at_once(cluster, pair):
    wait_until("exactly one leader", lambda: len(leaders(pair)) == 1, timeout=LEASE_SECONDS * 3)
    leader = leaders(pair)[0]
    follower = next(r for r in pair if r is not leader)
    stopped_at = time.monotonic()
    leader.stop(signal.SIGTERM)
    wait_until("the follower takes over", lambda: holder(cluster) == follower.name, timeout=LEASE_SECONDS)
    handover = time.monotonic() - stopped_at
    print(f"handover after SIGTERM: {handover:.1f} s")
    assert handover < LEASE_SECONDS / 2, "a released Lease is taken on the follower's next retry, not after expiry"
