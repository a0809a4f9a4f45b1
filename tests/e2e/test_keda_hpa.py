"""1..N for real: KEDA's operator wakes a Deployment from 0 to 1, and from there the HPA
controller in kube-controller-manager scales it on ballast's value, read through KEDA's
metrics adapter behind the apiserver's aggregation layer (keda_fixtures' `keda_metrics_adapter`:
an APIService for external.metrics.k8s.io). Timings are printed ([timing] lines), not
asserted: the 2-core machine is shared with builds, and the HPA controller keeps its default
15 s sync period, as a K3s cluster does.
"""

import json
import math
import time
import urllib.parse

from kafka_fixtures import unique, wait_for
from keda_fixtures import *  # noqa: F401,F403  (kube, keda_operator, keda_metrics_adapter)
from conftest import SessionPublisher
from test_keda import COOLDOWN_SECONDS, apply_workload, ready_condition, replicas_become

TARGET = 2  # the trigger's threshold: the value each replica should carry (AverageValue)
MAX_REPLICAS = 4
POLLING_SECONDS = 15  # KEDA deactivates on the first poll after cooldownPeriod (default 30 s)
SCALE_DOWN_WINDOW_SECONDS = 5  # the HPA's scale-down stabilization (default 300 s)


def quantity(text):
    """A Kubernetes quantity as the external metrics API writes it ("6", "1500m")."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def external_metric(kube, namespace, hpa):
    """The HPA's one external metric as the aggregated API answers it (name, value)."""
    metric = hpa["spec"]["metrics"][0]["external"]["metric"]
    selector = ",".join(f"{key}={value}" for key, value in metric["selector"]["matchLabels"].items())
    path = (f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric['name']}"
            f"?labelSelector={urllib.parse.quote(selector)}")
    items = json.loads(kube("get", "--raw", path))["items"]
    return metric["name"], [quantity(item["value"]) for item in items]


def test_the_hpa_controller_scales_one_to_n_on_a_ballast_value_through_kedas_metrics_adapter(
        kube, keda_operator, keda_metrics_adapter, ballast, namespace):
    name, counter = "interviewer", unique("active_interviews").replace("-", "_")
    apply_workload(kube, namespace, name, "external-push",
                   {"scalerAddress": f"127.0.0.1:{ballast.grpc_port}", "source": "sessions", "counter": counter,
                    "selector": "service=interview", "threshold": TARGET},
                   polling_interval=POLLING_SECONDS, max_replicas=MAX_REPLICAS,
                   hpa_behavior={"scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS}})
    wait_for("the ScaledObject to be Ready", lambda: ready_condition(kube, namespace, name) == "True", 60)
    hpa = json.loads(wait_for(f"KEDA's HPA keda-hpa-{name}", lambda: kube(
        "get", "hpa", f"keda-hpa-{name}", "-n", namespace, "-o", "json", check=False), 60))
    assert kube.replicas(namespace, name) == 0

    def replicas_reach(want, since):
        replicas_become(kube, namespace, name, want, timeout=90)
        return time.monotonic() - since

    busy, quiet = 3 * TARGET, TARGET
    publisher = SessionPublisher(ballast.sessions_port, unique("publisher"))
    try:
        started = time.monotonic()
        publisher.send(counter, busy, {"service": "interview"})
        # At least 1: the HPA controller may sync between two reads and go straight on.
        wait_for(f"{name} awake", lambda: kube.replicas(namespace, name) >= 1, 60, interval=0.1)
        woke = time.monotonic() - started
        many = replicas_reach(math.ceil(busy / TARGET), started)
        metric, values = external_metric(kube, namespace, hpa)
        assert values == [busy], f"the external metrics API answered {values} for {metric}, ballast has {busy}"

        lowered = time.monotonic()
        publisher.send(counter, quiet, {"service": "interview"})
        fewer = replicas_reach(math.ceil(quiet / TARGET), lowered)
        assert external_metric(kube, namespace, hpa)[1] == [quiet]
    finally:
        publisher.close()
    disconnected = time.monotonic()
    back = replicas_reach(0, disconnected)
    print(f"\n[timing] {busy} sessions, target {TARGET}: publish → spec.replicas=1 (KEDA) {woke:.2f} s, "
          f"→ {math.ceil(busy / TARGET)} (HPA) {many:.2f} s; lowered to {quiet} → 1 (HPA, stabilization "
          f"{SCALE_DOWN_WINDOW_SECONDS} s) {fewer:.2f} s; disconnect → 0 (KEDA, cooldown {COOLDOWN_SECONDS} s) "
          f"{back:.2f} s (pollingInterval {POLLING_SECONDS} s)")
    print(f"[hpa] external metric {metric} read through the aggregated API: {busy} then {quiet}")
