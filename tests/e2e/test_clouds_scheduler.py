"""The node pool against fake VPSie and Contabo APIs whose VMs boot into the real cluster
(fake_clouds.py) and the real kube-scheduler: pending pods get the right VMs, a VM that
never joins is deleted and the group backs off, and a leader killed mid-scale-up leaves its
successor one VM, not two. End states are read through the apiserver; timings are printed
(pytest -s shows them), not asserted."""

import base64
import time

import pytest

from conftest import NAMESPACE, wait_until
from fake_clouds import FakeContabo, FakeVpsie, boot_identity
from test_leader import LEASE_SECONDS, holder, leaders, replicas
from test_nodegroup import create_pool_pod
from test_scale_scheduler import deployment, pods_of

# What the clouds sell, and the same as NodeGroup offerings: (cpu, memory) per product.
CATALOG = {"small": ("2", "4Gi"), "large": ("8", "16Gi")}
OFFERINGS = [{"id": product, "cpu": cpu, "memory": memory, "maxPods": 110} for product, (cpu, memory) in CATALOG.items()]
# A K3s agent's cloud-init, as a user's bootstrapSecret would carry it.
USER_DATA = """#cloud-config
runcmd:
  - curl -sfL https://get.k3s.io | K3S_URL=https://k3s.invalid:6443 K3S_TOKEN_FILE=/etc/k3s-token sh -s - agent --node-name {{nodeName}} --node-label {{nodeLabels}}
"""
BOOTSTRAP_SECRET = "e2e-k3s-join"


def secret(cluster, name, data):
    cluster.admin.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
                         "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


def start_cloud(cluster, kind):
    """A fake cloud of `kind` and the NodeGroup `spec.provider` that points ballast at it."""
    if kind == "vpsie":
        cloud = FakeVpsie(cluster, CATALOG, "e2e-client", "e2e-client-secret", "e2e-account-password")
        secret(cluster, "e2e-vpsie", {"clientId": "e2e-client", "clientSecret": "e2e-client-secret",
                                      "accountPassword": "e2e-account-password"})
        provider = {"type": "vpsie", "credentialsSecret": {"name": "e2e-vpsie", "namespace": NAMESPACE},
                    "vpsie": {"apiURL": cloud.url, "datacenter": "e2e-dc", "osIdentifier": "e2e-k3s-image"}}
    else:
        cloud = FakeContabo(cluster, CATALOG, "e2e-client", "e2e-client-secret", "e2e-api-user", "e2e-api-password")
        secret(cluster, "e2e-contabo", {"clientId": "e2e-client", "clientSecret": "e2e-client-secret",
                                        "username": "e2e-api-user", "password": "e2e-api-password"})
        provider = {"type": "contabo", "credentialsSecret": {"name": "e2e-contabo", "namespace": NAMESPACE},
                    "contabo": {"apiURL": cloud.url, "authURL": cloud.url + "/auth/realms/contabo/protocol/openid-connect/token",
                                "region": "EU", "period": 1, "imageId": "e2e-k3s-image"}}
    secret(cluster, BOOTSTRAP_SECRET, {"user-data": USER_DATA})
    return cloud, provider


@pytest.fixture(params=["vpsie", "contabo"])
def cloud(cluster, request):
    made, provider = start_cloud(cluster, request.param)
    made.provider = provider
    yield made
    made.close()


def cloud_group(name, provider, pool, scale_up=None, scale_down=None, **spec):
    return {"apiVersion": "ballast.dev/v1alpha1", "kind": "NodeGroup", "metadata": {"name": name},
            "spec": {"minNodes": 0, "maxNodes": 4, "provider": provider, "offerings": OFFERINGS,
                     "labels": {"workload-type": pool},
                     "bootstrapSecret": {"name": BOOTSTRAP_SECRET, "namespace": NAMESPACE, "key": "user-data"},
                     "scaleUp": {"podAgeSeconds": 0, **(scale_up or {})},
                     "scaleDown": scale_down or {"enabled": False}, **spec}}


def status_of(cluster, group):
    return (cluster.admin.get("nodegroup", group, check=False) or {}).get("status", {})


def group_events(cluster, group, reason):
    return [e for e in cluster.admin.get("events", namespace="default")["items"]
            if e["involvedObject"]["name"] == group and e["reason"] == reason]


@pytest.mark.parametrize("user_data, hostname, expected", [
    (USER_DATA.replace("{{nodeName}}", "g-1").replace("{{nodeLabels}}", "ballast.dev/nodegroup=g,tier=a"), "vm",
     ("g-1", {"ballast.dev/nodegroup": "g", "tier": "a"})),
    ("k3s agent --node-label=a=1 --node-label b=2,c=", "host-7", ("host-7", {"a": "1", "b": "2", "c": ""})),
    ("", "host-8", ("host-8", {})),  # no K3s arguments: the hostname, no labels (joins no group)
])
def test_a_fake_vm_boots_as_its_user_data_says(user_data, hostname, expected):
    assert boot_identity(user_data, hostname) == expected


def test_pending_pods_get_the_right_vms_from_the_cloud_and_give_them_back(cluster, ballast, nodes, namespace, cloud):
    """Three 3-core replicas: the 2-core offering cannot hold one, an 8-core VM holds two,
    so ballast buys exactly two `large` VMs; their K3s agents join with the group's labels,
    the scheduler binds every replica, in-flight clears. When the workload goes, scale-down
    gives both VMs back (VPSie deletes them, Contabo parks them) and their Nodes leave."""
    suffix = namespace[-6:]
    group = pool = f"{cloud.provider['type']}-{suffix}"
    scale_down = {"enabled": False, "unneededSeconds": 0, "delayAfterAddSeconds": 0, "utilizationThreshold": 0.5}
    cluster.admin.apply(cloud_group(group, cloud.provider, pool, scale_down=scale_down))
    try:
        started = time.monotonic()
        cluster.admin.apply(deployment("api", 3, {"workload-type": pool}, anti_affinity=False, cpu="3"), "-n", namespace)
        wait_until("a create order at the cloud", lambda: cloud.orders, timeout=60)
        ordered = time.monotonic()
        bound = wait_until("all three replicas bound", lambda: (lambda pods: pods if len(pods) == 3 and all(
            p["spec"].get("nodeName") for p in pods) else None)(pods_of(cluster, namespace, "api")), timeout=90)
        scheduled = time.monotonic()
        status = wait_until("in-flight cleared", lambda: (lambda s: s if s.get("readyNodes") == 2 and not s.get(
            "inFlight") else None)(status_of(cluster, group)), timeout=60)
        time.sleep(3)  # more passes: nothing more is ordered
        assert [(o["product"], o["reused"]) for o in cloud.orders] == [("large", False)] * 2, cloud.orders
        vms = {vm.name: vm for vm in cloud.vms.values()}
        assert {p["spec"]["nodeName"] for p in bound} <= set(vms), (bound, vms)
        assert all(name.startswith(group + "-") for name in vms), vms
        rows = {row["name"]: row for row in status["nodes"]}
        assert {name: (rows[name].get("providerId"), rows[name].get("offering")) for name in vms} == {
            name: (vm.id, "large") for name, vm in vms.items()}, rows

        cluster.admin.run("delete", "deployment", "api", "-n", namespace)
        cluster.admin.apply(cloud_group(group, cloud.provider, pool, scale_down={**scale_down, "enabled": True}))
        released = time.monotonic()
        wait_until("both VMs given back", lambda: not cloud.running(), timeout=60)
        wait_until("their Nodes gone", lambda: all(cluster.admin.get("node", name, check=False) is None for name in vms),
                   timeout=30)
        assert sorted(r["node"] for r in cloud.removals) == sorted(vms), cloud.removals
        if cloud.provider["type"] == "contabo":
            assert len(cloud.parked()) == 2, cloud.vms  # stopped and renamed, kept for reuse this month
        else:
            assert not cloud.vms, cloud.vms
        assert len(cloud.orders) == 2, cloud.orders
        print(f"\n[timing] {cloud.provider['type']}: pending → create order {ordered - started:.2f} s, "
              f"→ 3 replicas bound {scheduled - started:.2f} s (boot delay {cloud.joiner.delay} s); "
              f"workload gone → VMs given back {time.monotonic() - released:.2f} s")
    finally:
        cluster.admin.run("delete", "deployment", "api", "-n", namespace, "--wait=false", check=False)
        cluster.admin.run("delete", "nodegroup", group, check=False)


def test_a_vm_that_never_joins_is_deleted_and_the_group_backs_off(cluster, ballast, nodes, namespace, cloud):
    """The cloud sells a VM whose agent never registers. After provisionTimeoutSeconds
    ballast deletes it (Contabo: parks it), says so (Event, status, Backoff condition,
    metric) and orders nothing during scaleUp.backoffSeconds; the next order comes after
    the backoff (Contabo reuses the parked instance). With the pod gone, that VM times out
    too and nothing is left running."""
    suffix = namespace[-6:]
    group = pool = f"never-{cloud.provider['type'][:3]}-{suffix}"
    backoff = 6
    cloud.never_join = True
    cluster.admin.apply(cloud_group(group, cloud.provider, pool, scale_up={"backoffSeconds": backoff},
                                    provisionTimeoutSeconds=2))
    try:
        started = time.monotonic()
        create_pool_pod(cluster, "stranded", pool, namespace)
        first = wait_until("the first order", lambda: cloud.orders, timeout=60)[0]
        removed = wait_until("the VM deleted after the provision timeout", lambda: cloud.removals, timeout=40)[0]
        assert removed["node"] == first["name"], (removed, first)
        status = status_of(cluster, group)
        assert first["name"] in status["lastScaleUpFailure"]["reason"], status
        assert not status.get("inFlight"), status
        wait_until("the Backoff condition", lambda: any(c["type"] == "Backoff" and c["status"] == "True"
                                                       for c in status_of(cluster, group).get("conditions", [])))
        assert group_events(cluster, group, "ProvisionTimeout"), "no ProvisionTimeout Event"
        assert ballast.metric("ballast_failed_scale_ups_total", group=group, reason="timeout") == 1

        second = wait_until("the order after the backoff", lambda: cloud.orders[1:], timeout=backoff + 30)[0]
        # lastScaleUpFailure is kept to the second: the backoff may end up to 1 s early.
        assert second["at"] - removed["at"] >= backoff - 1.5, (second, removed)
        assert group_events(cluster, group, "ScaleUpBackoff"), "no ScaleUpBackoff Event while the pod waited"
        assert second["reused"] == (cloud.provider["type"] == "contabo"), cloud.orders

        cluster.admin.run("delete", "pod", "stranded", "-n", namespace, "--wait=false")
        wait_until("the second VM deleted too", lambda: len(cloud.removals) == 2, timeout=40)
        time.sleep(2)
        assert not cloud.running(), cloud.vms
        assert len(cloud.orders) == 2, cloud.orders
        assert not status_of(cluster, group).get("inFlight")
        assert ballast.metric("ballast_failed_scale_ups_total", group=group, reason="timeout") == 2
        print(f"\n[timing] {cloud.provider['type']}: never-joining VM deleted {removed['at'] - first['at']:.2f} s "
              f"after its order (provisionTimeoutSeconds 2; the pass is woken when it ends), next order "
              f"{second['at'] - removed['at']:.2f} s later (backoffSeconds {backoff}); test {time.monotonic() - started:.1f} s")
    finally:
        cluster.admin.run("delete", "pod", "stranded", "-n", namespace, "--wait=false", check=False)
        cluster.admin.run("delete", "nodegroup", group, check=False)


def test_a_leader_killed_mid_scale_up_leaves_its_successor_one_vm_per_request(cluster, installed, ballast, nodes,
                                                                             namespace):
    """Two node-pool replicas on the Lease; a VPSie group and a Contabo group, each with a
    pod only it can take. Both create orders reach their cloud in one pass and the leader is
    SIGKILLed before the answers are recorded (status.inFlight has each request, no provider
    id) and before any VM joins. The successor orders nothing: VPSie's VM joins and ends its
    request; Contabo's never joins and is parked, found by its name, once
    provisionTimeoutSeconds have passed. Each cloud saw exactly one create."""
    suffix = namespace[-6:]
    clouds = {kind: start_cloud(cluster, kind) for kind in ("vpsie", "contabo")}
    vpsie, contabo = clouds["vpsie"][0], clouds["contabo"][0]
    groups = {kind: f"lead-{kind[:3]}-{suffix}" for kind in clouds}
    for cloud, _ in clouds.values():
        cloud.create_answer_delay = 2.0
    vpsie.hold_joins()
    contabo.never_join = True
    try:
        with replicas(cluster, installed, ballast, "nodepool", names=("pool-a", "pool-b")) as pair:
            wait_until("one leader", lambda: len(leaders(pair)) == 1, timeout=LEASE_SECONDS * 3)
            leader = leaders(pair)[0]
            successor = next(r for r in pair if r is not leader)
            for kind, group in groups.items():
                create_pool_pod(cluster, f"needs-{kind}", group, namespace)
            time.sleep(1)  # the pods' pass is over: both groups arrive in the next one
            cluster.admin.apply({"apiVersion": "v1", "kind": "List", "items": [
                cloud_group(groups[kind], provider, groups[kind], provisionTimeoutSeconds=300 if kind == "vpsie" else 5)
                for kind, (_, provider) in clouds.items()]})
            wait_until("a create order at both clouds", lambda: vpsie.orders and contabo.orders, timeout=60,
                       interval=0.05)
            leader.proc.kill()
            killed = time.monotonic()
            for kind, group in groups.items():
                (entry,) = status_of(cluster, group)["inFlight"]
                assert entry["name"] == clouds[kind][0].orders[0]["name"] and not entry.get("providerId"), entry

            wait_until("the successor leads", lambda: holder(cluster) == successor.name, timeout=LEASE_SECONDS + 10)
            took_over = time.monotonic()
            wait_until("Contabo's VM parked by the successor", lambda: contabo.removals, timeout=30)
            assert not contabo.running() and len(contabo.parked()) == 1, contabo.vms
            assert len(vpsie.orders) == 1, vpsie.orders
            vpsie.release_joins()
            joined = vpsie.orders[0]["name"]
            wait_until("the pod bound to VPSie's node", lambda: cluster.admin.get(
                "pod", "needs-vpsie", namespace)["spec"].get("nodeName") == joined, timeout=60)
            wait_until("in-flight cleared", lambda: not status_of(cluster, groups["vpsie"]).get("inFlight"), timeout=60)
            time.sleep(3)  # more passes: nothing more is ordered (Contabo's group backs off)
            for cloud, _ in clouds.values():
                assert len(cloud.orders) == 1, cloud.orders  # one create each: every POST is an order
            assert successor.metric("ballast_scaled_up_nodes_total") == 0
            assert successor.metric("ballast_failed_scale_ups_total", group=groups["contabo"], reason="timeout") == 1
            last_order = max(vpsie.orders[0]["at"], contabo.orders[0]["at"])
            print(f"\n[timing] leader killed {killed - last_order:.2f} s after the second create reached "
                  f"its cloud; successor led {took_over - killed:.1f} s later (lease {LEASE_SECONDS} s)")
    finally:
        for kind, group in groups.items():
            cluster.admin.run("delete", "pod", f"needs-{kind}", "-n", namespace, "--wait=false", check=False)
            cluster.admin.run("delete", "nodegroup", group, check=False)
        for cloud, _ in clouds.values():
            cloud.close()
