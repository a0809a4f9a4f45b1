"""The admission webhook called by the real kube-apiserver: its JSON-patch application,
the Priority admission plugin, server-side dry run and failurePolicy, not our own samples."""

import copy
import json

import pytest

from conftest import ROOT

# tier → (namespace label, priority class, cpu request, required anti-affinity, spread policy)
TIERS = {
    "infra": ("platform-infra-critical", "100m", True, "DoNotSchedule"),
    "critical": ("platform-critical", "100m", False, "ScheduleAnyway"),
    "standard": ("platform-normal", "50m", False, "ScheduleAnyway"),
    "stateful": ("platform-critical", "250m", True, "DoNotSchedule"),
    "scale-to-zero": ("platform-normal", "50m", False, "ScheduleAnyway"),
    "batch": ("batch-low", "100m", False, None),
}


def pod_template(app, tier, containers=None):
    return {"metadata": {"labels": {"app": app, "ballast.dev/tier": tier}},
            "spec": {"containers": containers or [{"name": "main", "image": "registry.invalid/app:1"}]}}


def deployment(app, tier, replicas=2, template=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "labels": {"ballast.dev/tier": tier}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": template or pod_template(app, tier)}}


def statefulset(app, tier):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": app, "labels": {"ballast.dev/tier": tier}},
            "spec": {"replicas": 3, "serviceName": app, "selector": {"matchLabels": {"app": app}},
                     "template": pod_template(app, tier)}}


def bare_pod(app, tier):
    template = pod_template(app, tier)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": app, **template["metadata"]},
            "spec": template["spec"]}


def pod_spec_of(obj):
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def assert_tier_defaults(obj, tier):
    priority_class, cpu, required_anti_affinity, spread = TIERS[tier]
    spec = pod_spec_of(obj)
    assert spec.get("priorityClassName") == priority_class, spec
    assert spec["containers"][0]["resources"]["requests"]["cpu"] == cpu
    anti = spec.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    assert bool(anti) == required_anti_affinity, spec.get("affinity")
    constraints = spec.get("topologySpreadConstraints", [])
    if spread is None:
        assert not constraints
    else:
        assert [c["whenUnsatisfiable"] for c in constraints] == [spread]
        assert constraints[0]["topologyKey"] == "kubernetes.io/hostname"


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("make", [deployment, statefulset, bare_pod], ids=["deployment", "statefulset", "pod"])
def test_every_tier_gets_its_defaults_through_the_apiserver(cluster, ballast, namespace, tier, make):
    if tier == "infra":  # platform-infra-critical is reserved for privileged namespaces
        namespace = "monitoring"
        cluster.admin.run("create", "namespace", namespace, check=False)
    obj = make(f"{make.__name__.replace('_', '-')}-{tier}", tier)
    cluster.admin.create(obj, "-n", namespace)
    stored = cluster.admin.get(obj["kind"].lower(), obj["metadata"]["name"], namespace)
    assert_tier_defaults(stored, tier)
    assert stored["metadata"]["annotations"]["ballast.dev/applied-tier"] == tier
    if obj["kind"] == "Pod":  # the Priority plugin resolved the class ballast set
        assert stored["spec"]["priority"] == {"platform-infra-critical": 1000000, "platform-critical": 100000,
                                              "platform-normal": 10000, "batch-low": 1000}[TIERS[tier][0]]
    cluster.admin.run("delete", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, "--wait=false")


def test_an_unchanged_update_does_not_bump_the_generation(cluster, ballast, namespace):
    cluster.admin.create(deployment("steady", "standard"), "-n", namespace)
    before = cluster.admin.get("deployment", "steady", namespace)
    # A client re-applying what it sent first: the webhook must not produce a new template.
    cluster.admin.run("label", "deployment", "steady", "-n", namespace, "touched=yes")
    replaced = copy.deepcopy(cluster.admin.get("deployment", "steady", namespace))
    cluster.admin.run("replace", "-f", "-", "-n", namespace, stdin=json.dumps(replaced))
    after = cluster.admin.get("deployment", "steady", namespace)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]


def test_explicit_user_settings_win(cluster, ballast, namespace):
    containers = [{"name": "main", "image": "registry.invalid/app:1",
                   "resources": {"requests": {"cpu": "777m", "memory": "77Mi"}}}]
    template = pod_template("mine", "standard", containers)
    template["spec"]["priorityClassName"] = "batch-low"
    template["spec"]["topologySpreadConstraints"] = [{
        "maxSkew": 3, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "mine"}}}]
    cluster.admin.create(deployment("mine", "standard", template=template), "-n", namespace)
    spec = cluster.admin.get("deployment", "mine", namespace)["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "batch-low"
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "777m", "memory": "77Mi"}
    assert [c["maxSkew"] for c in spec["topologySpreadConstraints"]] == [3]


def test_server_side_dry_run_gets_the_same_result(cluster, ballast, namespace):
    obj = deployment("dry", "critical")
    dry = json.loads(cluster.admin.create(obj, "-n", namespace, "--dry-run=server", "-o", "json").stdout)
    cluster.admin.create(obj, "-n", namespace)
    real = cluster.admin.get("deployment", "dry", namespace)
    assert dry["spec"]["template"]["spec"] == real["spec"]["template"]["spec"]


def test_a_reserved_priority_class_is_refused_with_ballasts_message(cluster, ballast, namespace):
    template = pod_template("escalate", "standard")
    template["spec"]["priorityClassName"] = "platform-infra-critical"
    proc = cluster.admin.create(deployment("escalate", "standard", template=template), "-n", namespace, check=False)
    assert proc.returncode != 0
    assert "platform-infra-critical is reserved" in proc.stderr, proc.stderr


def scaled_object(name, metadata):
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"name": name}, "minReplicaCount": 0,
                     "triggers": [{"type": "external-push", "metadata": {
                         "scalerAddress": "ballast.ballast-system.svc:9090", **metadata}}]}}


def test_a_scaledobject_with_broken_ballast_metadata_is_refused_naming_the_key(cluster, ballast, namespace):
    broken = scaled_object("broken", {"source": "prometheus", "serverAddress": "http://prom:9090",
                                      "query": "up", "threshold": "ten"})
    proc = cluster.admin.create(broken, "-n", namespace, check=False)
    assert proc.returncode != 0
    assert "threshold" in proc.stderr, proc.stderr
    good = scaled_object("good", {"source": "prometheus", "serverAddress": "http://prom:9090",
                                  "query": "up", "threshold": "10"})
    cluster.admin.create(good, "-n", namespace)


def test_the_example_scaledobjects_pass_the_real_schema_and_the_webhook(cluster, ballast, namespace):
    for example in sorted((ROOT / "examples").glob("scaledobject*.yaml")):
        proc = cluster.admin.run("apply", "--dry-run=server", "-n", namespace, "-f", str(example), check=False)
        assert proc.returncode == 0, f"{example.name}: {proc.stderr}"


def test_with_ballast_stopped_fail_open_objects_are_still_created(cluster, ballast, namespace):
    ballast.stop()
    try:
        cluster.admin.create(deployment("while-down", "standard"), "-n", namespace)
        stored = cluster.admin.get("deployment", "while-down", namespace)
        assert "ballast.dev/applied-tier" not in stored["metadata"].get("annotations", {})
        # ScaledObjects fail closed: nothing unvalidated gets in while ballast is away.
        proc = cluster.admin.create(scaled_object("while-down", {"source": "sessions", "counter": "c",
                                                                  "threshold": "1"}), "-n", namespace, check=False)
        assert proc.returncode != 0 and "failed calling webhook" in proc.stderr, proc.stderr
    finally:
        ballast.start()
