"""ballast's informers on the real watch cache: bookmarks, a restarted apiserver and a real
410 Gone after an etcd compaction, without missing a change."""

import base64
import json
import signal
import time
import urllib.request

from conftest import wait_until
from test_guard import budget
from test_webhook import deployment


def etcd_call(cluster, path, body):
    request = urllib.request.Request(cluster.etcd + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def compact_etcd(cluster):
    """Compacts etcd at its current revision (the v3 JSON gateway), so any older
    resourceVersion is gone for good."""
    revision = etcd_call(cluster, "/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"]
    etcd_call(cluster, "/v3/kv/compaction", {"revision": revision, "physical": True})
    return int(revision)


def test_a_change_made_while_the_watch_is_broken_and_history_compacted_is_not_missed(cluster, ballast, nodes,
                                                                                    namespace):
    cluster.admin.create(deployment("before", "standard", replicas=2), "-n", namespace)
    wait_until("before's PDB", lambda: budget(cluster, namespace, "before"))
    expired_before = sum("watch expired" in line for line in ballast.log_lines())

    # ballast is frozen while changes happen and history is compacted; the apiserver restarts
    # (dropping every watch and rebuilding its watch cache from the compacted etcd), so the
    # resourceVersion ballast resumes from is gone for good: a real 410 Gone.
    ballast.proc.send_signal(signal.SIGSTOP)
    try:
        cluster.admin.create(deployment("during", "standard", replicas=2), "-n", namespace)  # webhook fails open
        cluster.admin.run("scale", "deployment", "before", "-n", namespace, "--replicas=1")
        compact_etcd(cluster)
        cluster.restart_apiserver()
    finally:
        ballast.proc.send_signal(signal.SIGCONT)

    wait_until("during's PDB", lambda: budget(cluster, namespace, "during") == {"minAvailable": 1}, timeout=90)
    wait_until("before's PDB follows the scale-down",
               lambda: budget(cluster, namespace, "before") == {"maxUnavailable": 1}, timeout=90)
    # The scenario is real only if the apiserver did answer 410 Gone to a resumed watch (it
    # does for the CRD-backed resources; 1.35's watch cache for built-in ones resumed here).
    wait_until("a 410 Gone relist", lambda: sum("watch expired" in line for line in ballast.log_lines())
               > expired_before, timeout=60)


def test_a_quiet_watch_stays_current_through_bookmarks(cluster, ballast, nodes, namespace):
    # Nothing in this namespace changes for longer than the watch cache's bookmark period;
    # then one change must still arrive through the same watch without an error.
    time.sleep(5)
    cluster.admin.create(deployment("late", "standard", replicas=2), "-n", namespace)
    wait_until("late's PDB", lambda: budget(cluster, namespace, "late"), timeout=30)
