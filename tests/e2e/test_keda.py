"""Scale to zero for real: KEDA's own operator, the real apiserver, a real Kafka broker and
the suite's ballast (conftest's `ballast`: its webhook validates the ScaledObjects, its scaler
answers KEDA). Timings are printed ([timing] lines), not asserted: the 2-core machine is
shared with builds.
"""

import json
import os
import random
import time

from kafka_fixtures import *  # noqa: F401,F403  (kafka_broker)
from kafka_fixtures import percentiles, unique, wait_for
from keda_fixtures import *  # noqa: F401,F403  (kube, keda_operator, prometheus)
from conftest import SessionPublisher

COOLDOWN_SECONDS = 5
TRIALS = int(os.environ.get("BALLAST_KEDA_TRIALS", "1"))
SLOWEST_POLLING_SECONDS = 15  # the side-by-side runs' slowest KEDA trigger


def apply_workload(kube, namespace, name, trigger_type, metadata, polling_interval=15, fallback=False,
                   max_replicas=3, hpa_behavior=None):
    """A Deployment at 0 and its ScaledObject (min 0) with one trigger of `trigger_type`;
    `hpa_behavior` goes to the HPA KEDA creates (advanced.horizontalPodAutoscalerConfig)."""
    trigger = "\n".join(f'        {key}: "{value}"' for key, value in metadata.items())
    optional_spec = "  fallback: {failureThreshold: 3, replicas: 2}\n" if fallback else ""
    if hpa_behavior:
        optional_spec += f"  advanced: {json.dumps({'horizontalPodAutoscalerConfig': {'behavior': hpa_behavior}})}\n"
    kube.apply(f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: worker, image: registry.invalid/worker:1}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  scaleTargetRef: {{name: {name}}}
  minReplicaCount: 0
  maxReplicaCount: {max_replicas}
  pollingInterval: {polling_interval}
  cooldownPeriod: {COOLDOWN_SECONDS}
{optional_spec}  triggers:
    - type: {trigger_type}
      metadata:
{trigger}
""")


def scale_to_zero_workload(kube, namespace, name, metadata, fallback=False):
    apply_workload(kube, namespace, name, "external-push", metadata, fallback=fallback)


def ready_condition(kube, namespace, name):
    out = kube("get", "scaledobject", name, "-n", namespace, "-o",
               "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
    return out.strip()


def kafka_trigger(broker, ballast, group, topic, **extra):
    metadata = {"scalerAddress": f"127.0.0.1:{ballast.grpc_port}", "source": "kafka", "bootstrapServers": broker.bootstrap,
                "consumerGroup": group, "topic": topic, "lagThreshold": "1"}
    metadata.update({key: str(value) for key, value in extra.items()})
    return metadata


def replicas_become(kube, namespace, name, want, timeout):
    started = time.monotonic()
    wait_for(f"{namespace}/{name} spec.replicas = {want}", lambda: kube.replicas(namespace, name) == want, timeout,
             interval=0.2)
    return time.monotonic() - started


def test_one_message_wakes_the_deployment_and_a_commit_puts_it_back_to_zero(
        kube, keda_operator, kafka_broker, ballast, namespace):
    name = "worker"
    topic, group = unique("jobs"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.commit(group, topic, {0: 0})  # a group that is caught up: lag 0
    scale_to_zero_workload(kube, namespace, name, kafka_trigger(kafka_broker, ballast, group, topic))
    wait_for("the ScaledObject to be Ready", lambda: ready_condition(kube, namespace, name) == "True", 60)
    assert kube.replicas(namespace, name) == 0

    produced = time.monotonic()
    kafka_broker.produce(topic, 1)
    woke = replicas_become(kube, namespace, name, 1, timeout=60)
    print(f"\n[timing] produce → spec.replicas=1: {time.monotonic() - produced:.2f} s "
          f"(external-push, pollingInterval 15 s)")

    committed = time.monotonic()
    kafka_broker.consume(group, topic)
    back = replicas_become(kube, namespace, name, 0, timeout=60 + COOLDOWN_SECONDS)
    print(f"[timing] commit → spec.replicas=0: {time.monotonic() - committed:.2f} s "
          f"(cooldownPeriod {COOLDOWN_SECONDS} s); woke in {woke:.2f} s, back in {back:.2f} s")


def wake_and_sleep(kube, namespace, name, start_work, end_work, what):
    """Timed 0 → 1 after start_work() and 1 → 0 after end_work(), printed."""
    wait_for("the ScaledObject to be Ready", lambda: ready_condition(kube, namespace, name) == "True", 60)
    assert kube.replicas(namespace, name) == 0
    started = time.monotonic()
    start_work()
    replicas_become(kube, namespace, name, 1, timeout=60)
    woke = time.monotonic() - started  # start_work() included: for Prometheus, the scrape
    end_work()
    back = replicas_become(kube, namespace, name, 0, timeout=60 + COOLDOWN_SECONDS)
    print(f"\n[timing] {what}: work → spec.replicas=1 {woke:.2f} s; "
          f"work gone → spec.replicas=0 {back:.2f} s (cooldownPeriod {COOLDOWN_SECONDS} s)")


def test_a_session_publisher_wakes_the_deployment_and_its_disconnect_puts_it_back_to_zero(
        kube, keda_operator, ballast, namespace):
    name, counter = "interviewer", unique("active_interviews").replace("-", "_")
    apply_workload(kube, namespace, name, "external-push",
                   {"scalerAddress": f"127.0.0.1:{ballast.grpc_port}", "source": "sessions", "counter": counter,
                    "selector": "service=interview", "threshold": "1"})
    publisher = None

    def connect():
        nonlocal publisher
        publisher = SessionPublisher(ballast.sessions_port, unique("publisher"))
        publisher.send(counter, 1, {"service": "interview"})

    try:
        wake_and_sleep(kube, namespace, name, connect, lambda: publisher.close(), "sessions (external-push)")
    finally:
        if publisher:
            publisher.close()


def test_a_prometheus_query_wakes_the_deployment_and_puts_it_back_to_zero(
        kube, keda_operator, ballast, namespace, prometheus):
    name, gauge = "transcoder", unique("queue_depth").replace("-", "_")
    prometheus.set(gauge, 0)
    wait_for("Prometheus to scrape the exporter", lambda: prometheus.value(gauge) == 0, 30)
    apply_workload(kube, namespace, name, "external-push",
                   {"scalerAddress": f"127.0.0.1:{ballast.grpc_port}", "source": "prometheus",
                    "serverAddress": prometheus.address, "query": f"sum({gauge})", "threshold": "1",
                    "pollInterval": "1s"})
    wake_and_sleep(kube, namespace, name, lambda: prometheus.set(gauge, 3), lambda: prometheus.set(gauge, 0),
                   "prometheus (external-push, 1 s scrape + 1 s poll)")


def test_broker_outage_while_active_never_scales_to_zero(kube, keda_operator, kafka_broker, ballast, namespace):
    name = "worker"
    topic, group = unique("jobs"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 3)
    kafka_broker.commit(group, topic, {0: 0})
    scale_to_zero_workload(kube, namespace, name,
                           kafka_trigger(kafka_broker, ballast, group, topic, maxStaleness="5s"),
                           fallback=True)
    replicas_become(kube, namespace, name, 1, timeout=60)

    kafka_broker.stop()
    try:
        # Well past maxStaleness + cooldownPeriod + one pollingInterval: ballast now fails the
        # RPCs, and KEDA must not read that as "inactive".
        deadline = time.monotonic() + 5 + COOLDOWN_SECONDS + 20
        seen = set()
        while time.monotonic() < deadline:
            seen.add(kube.replicas(namespace, name))
            time.sleep(1)
        assert 0 not in seen, f"scaled to zero while the broker was down (replicas seen: {seen})"
        print(f"\n[outage] replicas seen while the broker was down: {sorted(seen)}; "
              f"Ready={ready_condition(kube, namespace, name)!r}")
    finally:
        kafka_broker.start()


def builtin_kafka_workload(kube, namespace, name, broker, group, topic, polling_interval):
    apply_workload(kube, namespace, name, "kafka", {"bootstrapServers": broker.bootstrap, "consumerGroup": group,
                                                     "topic": topic, "lagThreshold": "1"}, polling_interval)


def side_by_side(kube, keda_operator, namespace, names, start_work, end_work, what):
    """BALLAST_KEDA_TRIALS trials (default 1; bench/RESULTS.md uses 20) of start_work() →
    each of `names` at spec.replicas = 1, then end_work() → every one back at 0, each trial
    after a random wait of up to SLOWEST_POLLING_SECONDS. Printed as p50/p95/max per
    Deployment; returns the samples by name."""
    for name in names:
        wait_for(f"{name} Ready", lambda n=name: ready_condition(kube, namespace, n) == "True", 60)
    time.sleep(3)  # a few polls of KEDA's own triggers with no work
    assert [kube.replicas(namespace, name) for name in names] == [0] * len(names)

    woke = {name: [] for name in names}
    for trial in range(TRIALS):
        # A random phase against KEDA's polls: each trial would otherwise start right after
        # the slowest trigger's poll that saw the work gone (its worst case every time).
        time.sleep(random.uniform(0, SLOWEST_POLLING_SECONDS))
        started = time.monotonic()
        start_work()
        pending = set(names)
        deadline = started + 30
        while time.monotonic() < deadline and pending:
            for name in sorted(pending):
                if kube.replicas(namespace, name) == 1:
                    woke[name].append(time.monotonic() - started)
                    pending.discard(name)
            time.sleep(0.05)
        if pending:
            print(f"\n[side-by-side] trial {trial}: {sorted(pending)} did not scale within 30 s\n"
                  + keda_operator.log_tail(15))
        end_work()
        for name in names:
            replicas_become(kube, namespace, name, 0, timeout=60 + COOLDOWN_SECONDS)
    print()
    for name in names:
        if woke[name]:
            stats = percentiles(woke[name])
            print(f"[timing] {what} → spec.replicas=1, {name}: n={stats['n']} p50={stats['p50']:.2f} s "
                  f"p95={stats['p95']:.2f} s max={stats['max']:.2f} s mean={stats['mean']:.2f} s")
    return woke


def test_side_by_side_keda_builtin_kafka_trigger_and_ballast(kube, keda_operator, kafka_broker, ballast, namespace):
    """produce → spec.replicas = 1, same topic and group, through KEDA's operator: ballast's
    external-push trigger with and without wakeOnProduce, and KEDA's own kafka trigger at
    pollingInterval 1 s and 15 s (as the platform we serve runs it). Each trial produces one
    record, then consumes it. Printed, not asserted, but ballast's default trigger must wake."""
    topic, group = unique("jobs"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.commit(group, topic, {0: 0})
    scale_to_zero_workload(kube, namespace, "via-ballast", kafka_trigger(kafka_broker, ballast, group, topic))
    scale_to_zero_workload(kube, namespace, "via-ballast-polling",
                           kafka_trigger(kafka_broker, ballast, group, topic, wakeOnProduce="false"))
    builtin_kafka_workload(kube, namespace, "via-keda-1s", kafka_broker, group, topic, polling_interval=1)
    builtin_kafka_workload(kube, namespace, "via-keda-15s", kafka_broker, group, topic, polling_interval=15)
    woke = side_by_side(kube, keda_operator, namespace,
                        ("via-ballast", "via-ballast-polling", "via-keda-1s", "via-keda-15s"),
                        lambda: kafka_broker.produce(topic, 1), lambda: kafka_broker.consume(group, topic), "produce")
    assert len(woke["via-ballast"]) == TRIALS


def test_side_by_side_keda_builtin_prometheus_trigger_and_ballast(kube, keda_operator, ballast, namespace, prometheus):
    """A PromQL whose value steps 0 → 3 (a gauge of the test's exporter, scraped every second
    by the real Prometheus) → spec.replicas = 1 through KEDA's operator: ballast's external-push
    trigger (`source: prometheus`, pollInterval 1 s) and KEDA's own prometheus trigger at
    pollingInterval 1 s and 15 s. Each trial steps the gauge up, then back to 0. Printed, not
    asserted, but ballast's trigger must wake."""
    gauge = unique("queue_depth").replace("-", "_")
    prometheus.set(gauge, 0)
    wait_for("Prometheus to scrape the exporter", lambda: prometheus.value(gauge) == 0, 30)
    query = {"serverAddress": prometheus.address, "query": f"sum({gauge})", "threshold": "1"}
    apply_workload(kube, namespace, "via-ballast", "external-push",
                   {"scalerAddress": f"127.0.0.1:{ballast.grpc_port}", "source": "prometheus", **query,
                    "pollInterval": "1s"})
    apply_workload(kube, namespace, "via-keda-1s", "prometheus", query, polling_interval=1)
    apply_workload(kube, namespace, "via-keda-15s", "prometheus", query, polling_interval=15)
    woke = side_by_side(kube, keda_operator, namespace, ("via-ballast", "via-keda-1s", "via-keda-15s"),
                        lambda: prometheus.set(gauge, 3), lambda: prometheus.set(gauge, 0), "gauge 0 → 3")
    assert len(woke["via-ballast"]) == TRIALS
