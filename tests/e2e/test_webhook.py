"""The admission webhook called by the real kube-apiserver: its JSON-patch application,
the Priority admission plugin, server-side dry run and failurePolicy, not our own samples."""

import copy
import json

import pytest

from conftest import ROOT, wait_until

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
    # monitoring outlives a run: a leftover from an earlier one goes first.
    cluster.admin.run("delete", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, "--ignore-not-found",
                      "--grace-period=0", "--force", check=False)
    cluster.admin.create(obj, "-n", namespace)
    stored = cluster.admin.get(obj["kind"].lower(), obj["metadata"]["name"], namespace)
    assert_tier_defaults(stored, tier)
    assert stored["metadata"]["annotations"]["ballast.dev/applied-tier"] == tier
    if obj["kind"] == "Pod":  # the Priority plugin resolved the class ballast set
        assert stored["spec"]["priority"] == {"platform-infra-critical": 1000000, "platform-critical": 100000,
                                              "platform-normal": 10000, "batch-low": 1000}[TIERS[tier][0]]
    cluster.admin.run("delete", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, "--wait=false")


def pods_of(cluster, namespace, app):
    return json.loads(cluster.admin.run("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout)["items"]


def schedulable_nodes(cluster):
    """Nodes a pod without tolerations may land on (other scenarios add tainted or cordoned ones)."""
    return [n["metadata"]["name"] for n in cluster.admin.get("nodes")["items"]
            if not n["spec"].get("unschedulable") and not any(
                t["effect"] in ("NoSchedule", "NoExecute") for t in n["spec"].get("taints", []))]


def test_a_coredns_style_tier_puts_one_pod_per_node_through_the_real_scheduler(cluster, ballast, nodes, namespace):
    hosts = schedulable_nodes(cluster)
    cluster.admin.create(deployment("dns", "cluster-dns", replicas=len(hosts) + 1), "-n", namespace)
    spec = cluster.admin.get("deployment", "dns", namespace)["spec"]["template"]["spec"]
    assert spec["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"app": "dns"}},
        "matchLabelKeys": ["pod-template-hash"]}]
    assert spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [
        {"labelSelector": {"matchLabels": {"app": "dns"}}, "topologyKey": "kubernetes.io/hostname"}]
    # system-cluster-critical is for privileged namespaces only: left unset here.
    assert "priorityClassName" not in spec or spec["priorityClassName"] != "system-cluster-critical"

    def placed():
        pods = pods_of(cluster, namespace, "dns")
        bound = [p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")]
        pending = [p for p in pods if not p["spec"].get("nodeName") and any(
            c["type"] == "PodScheduled" and c["status"] == "False" for c in p["status"].get("conditions", []))]
        return (bound, pending) if len(bound) == len(hosts) and len(pending) == 1 else None
    bound, pending = wait_until("one pod per node and one left Pending", placed, timeout=90)
    assert sorted(bound) == sorted(hosts)
    message = next(c["message"] for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert "anti-affinity" in message or "topology spread" in message, message


def test_an_ai_tier_spreads_over_zones_and_hosts_with_preferred_anti_affinity(cluster, ballast, nodes, namespace):
    cluster.admin.create(deployment("llm", "ai-inference", replicas=3), "-n", namespace)
    spec = cluster.admin.get("deployment", "llm", namespace)["spec"]["template"]["spec"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in spec["topologySpreadConstraints"]] == [
        ("topology.kubernetes.io/zone", "ScheduleAnyway"), ("kubernetes.io/hostname", "ScheduleAnyway")]
    assert spec["containers"][0]["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                                  "limits": {"memory": "2Gi"}}
    anti = spec["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 100, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {"app": "llm"}}, "topologyKey": "kubernetes.io/hostname"}}]
    # The scheduler accepts the terms: every pod is placed, on distinct hosts while there is room.
    bound = wait_until("three pods bound", lambda: (lambda names: names if len(names) == 3 else None)(
        [p["spec"]["nodeName"] for p in pods_of(cluster, namespace, "llm") if p["spec"].get("nodeName")]), timeout=90)
    assert len(set(bound)) == min(3, len(schedulable_nodes(cluster))), bound


def test_a_user_zone_constraint_keeps_the_tiers_hostname_one_beside_it(cluster, ballast, namespace):
    template = pod_template("zoned", "ai-inference")
    template["spec"]["topologySpreadConstraints"] = [{
        "maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "zoned"}}}]
    cluster.admin.create(deployment("zoned", "ai-inference", template=template), "-n", namespace)
    constraints = cluster.admin.get("deployment", "zoned", namespace)["spec"]["template"]["spec"][
        "topologySpreadConstraints"]
    assert [(c["topologyKey"], c["maxSkew"]) for c in constraints] == [
        ("topology.kubernetes.io/zone", 2), ("kubernetes.io/hostname", 1)]


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


KAFKA = {"source": "kafka", "bootstrapServers": "redpanda:9092", "consumerGroup": "stt", "topic": "speech"}


@pytest.mark.parametrize("key,value,expected", [
    ("sasl", "scram_sha512", "sasl: KEDA does not forward TriggerAuthentication secrets"),
    ("tls", "enable", "tls: KEDA does not forward"),
    ("password", "hunter2", "password: KEDA does not forward"),
    ("version", "2.8.0", "version has no meaning here"),
    ("fullMetadata", "false", "fullMetadata has no meaning here"),
    ("topicFromEnv", "TOPIC", "topicFromEnv: ballast does not read *FromEnv keys"),
])
def test_a_kafka_trigger_copied_from_keda_is_refused_naming_the_key(cluster, ballast, namespace, key, value, expected):
    proc = cluster.admin.create(scaled_object("copied", {**KAFKA, key: value}), "-n", namespace, check=False)
    assert proc.returncode != 0 and expected in proc.stderr, proc.stderr
    assert value not in proc.stderr  # a value may be a credential
    # A blank partitionLimitation is no limitation, as in KEDA.
    cluster.admin.create(scaled_object("copied", {**KAFKA, "partitionLimitation": "  "}), "-n", namespace)


def scaled_job(name, metadata):
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "metadata": {"name": name},
            "spec": {"jobTargetRef": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "work", "image": "registry.invalid/work:1"}]}}},
                     "triggers": [{"type": "external", "metadata": {
                         "scalerAddress": "ballast.ballast-system.svc:9090", **metadata}}]}}


def test_a_scaledjob_is_validated_like_a_scaledobject(cluster, ballast, namespace):
    proc = cluster.admin.create(scaled_job("transcode", {**KAFKA, "lagThreshold": "many"}), "-n", namespace,
                                check=False)
    assert proc.returncode != 0 and "spec.triggers[0].metadata: lagThreshold" in proc.stderr, proc.stderr
    proc = cluster.admin.create(scaled_job("transcode", {**KAFKA, "sasl": "plaintext"}), "-n", namespace, check=False)
    assert proc.returncode != 0 and "sasl" in proc.stderr, proc.stderr
    cluster.admin.create(scaled_job("transcode", {**KAFKA, "lagThreshold": "1"}), "-n", namespace)


def test_jobs_and_cronjobs_get_class_and_requests_but_no_spread(cluster, ballast, namespace):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "report"},
           "spec": {"template": pod_template("report", "batch")}}
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": pod_template("nightly", "critical")}}}}
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    cluster.admin.create(job, "-n", namespace)
    cluster.admin.create(cron, "-n", namespace)
    for kind, name, spec_path, priority_class, cpu in (
            ("job", "report", ("spec", "template", "spec"), "batch-low", "100m"),
            ("cronjob", "nightly", ("spec", "jobTemplate", "spec", "template", "spec"), "platform-critical", "100m")):
        spec = cluster.admin.get(kind, name, namespace)
        for key in spec_path:
            spec = spec[key]
        assert spec["priorityClassName"] == priority_class, spec
        assert spec["containers"][0]["resources"]["requests"]["cpu"] == cpu
        assert "topologySpreadConstraints" not in spec and "affinity" not in spec
    # The Job's pod is the Job controller's: it carries the class the Priority plugin resolved.
    pod = wait_until("the report pod", lambda: (json.loads(cluster.admin.run(
        "get", "pods", "-n", namespace, "-l", "job-name=report", "-o", "json").stdout)["items"] or [None])[0])
    assert pod["spec"]["priority"] == 1000


def test_the_example_scaledobjects_pass_the_real_schema_and_the_webhook(cluster, ballast):
    for example in sorted((ROOT / "examples").glob("scaledobject*.yaml")):
        for line in example.read_text().splitlines():  # the namespaces the examples live in
            if line.strip().startswith("namespace:"):
                cluster.admin.run("create", "namespace", line.split(":", 1)[1].strip(), check=False)
        proc = cluster.admin.run("apply", "--dry-run=server", "-f", str(example), check=False)
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
