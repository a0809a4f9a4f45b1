"""wakeOnProduce on a real Apache Kafka 4 broker: while a StreamIsActive stream waits on an
inactive kafka trigger, one produced message brings the activation edge within
milliseconds, through a watcher that is assigned (never subscribed) at the log end.

Numbers print as `[wake]` lines (run with -s); bench/RESULTS.md records a run.
BALLAST_WAKE_TRIALS (default 50) and BALLAST_WAKE_POLL_TRIALS (default 20) size the
latency test.
"""

import json
import os
import re
import subprocess
import threading
import time
import urllib.request

import pytest

from kafka_fixtures import *  # noqa: F401,F403  (fixtures: kafka_broker)
from kafka_fixtures import BallastProcess, librdkafka_version, percentiles, unique, wait_for

TRIALS = int(os.environ.get("BALLAST_WAKE_TRIALS", "50"))
POLL_TRIALS = int(os.environ.get("BALLAST_WAKE_POLL_TRIALS", "20"))
# librdkafka holds one Fetch per broker for this long (ProduceWatcher::kFetchWaitMax); a
# partition assigned meanwhile is fetched from the next one on.
FETCH_WAIT_SECONDS = 1.0


class Stream:
    """A StreamIsActive stream held open by `ballast probe --watch`, as KEDA holds one per
    external-push trigger; each message is (result, wall-clock seconds it arrived)."""

    def __init__(self, ballast, name, metadata):
        args = ballast.probe_args(name, metadata, watch=True)
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.messages = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            message = json.loads(line)
            if "spec" in message:  # the probe checks the metric spec before it opens the stream
                assert message["spec"]["code"] == "OK", message
                continue
            with self.changed:
                self.messages.append(message)
                self.changed.notify_all()

    def next(self, timeout):
        """The next message not yet taken, or a failure after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self.messages:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no StreamIsActive message within {timeout} s")
                self.changed.wait(left)
            message = self.messages.pop(0)
        assert "end" not in message, f"the stream ended: {message}"
        return message

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Producer:
    """Kafka's own console producer, kept running: a line written is a record sent at once
    (linger 0, acks=all), so the time written is the time produced, give or take a ms.
    (kcat reads a pipe in blocks, so a line would wait for more input.)"""

    def __init__(self, broker, topic):
        command = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   f"-Dlog4j2.configurationFile={broker.state_dir / 'log4j2.properties'}",
                   "-cp", f"{broker.lib}/*", "org.apache.kafka.tools.ConsoleProducer",
                   "--bootstrap-server", broker.bootstrap, "--topic", topic,
                   "--command-property", "linger.ms=0", "--command-property", "acks=all"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, text=True, bufsize=1)

    def send(self):
        sent = time.time()
        self.process.stdin.write(f"wake-{sent}\n")
        self.process.stdin.flush()
        return sent

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def log_end(broker, group, topic):
    return sum(row[1] for (name, _), row in broker.describe_group(group).items() if name == topic)


def metrics(ballast):
    with urllib.request.urlopen(f"http://{ballast.admin_address}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    values = {}
    for name in ("ballast_kafka_watchers", "ballast_kafka_watched_partitions", "ballast_kafka_wakes_total"):
        found = re.search(rf"^{name}(?:{{}})? ([0-9.e+-]+)$", text, re.M)
        values[name] = float(found.group(1)) if found else 0.0
    return values


def watched(ballast, partitions):
    return wait_for(f"{partitions} watched partitions",
                    lambda: metrics(ballast)["ballast_kafka_watched_partitions"] == partitions, 20, interval=0.05)


def trigger(broker, group, topic, **extra):
    metadata = {"source": "kafka", "bootstrapServers": broker.bootstrap, "consumerGroup": group, "topic": topic,
                "lagThreshold": "1", "allowIdleConsumers": "true"}
    metadata.update({key: str(value).lower() if isinstance(value, bool) else str(value)
                     for key, value in extra.items()})
    return metadata


def show(label, stats):
    print(f"[wake] {label}: n={stats['n']} p50={stats['p50'] * 1000:.1f} ms p95={stats['p95'] * 1000:.1f} ms "
          f"p99={stats['p99'] * 1000:.1f} ms max={stats['max'] * 1000:.1f} ms mean={stats['mean'] * 1000:.1f} ms")


def list_groups(broker):
    out = broker.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--list")
    return set(out.split())


@pytest.fixture(scope="module")
def ballast(tmp_path_factory, kafka_broker):
    process = BallastProcess(tmp_path_factory.mktemp("ballast-wake"))
    yield process
    process.stop()


def edge_latencies(ballast, broker, producer, group, topic, partitions, trials, wake, lag_before):
    """Per trial: a fresh stream whose activationLagThreshold is the current lag (so it starts
    inactive), one record produced, the seconds until its `true` arrives."""
    latencies = []
    lag = lag_before
    for trial in range(trials):
        metadata = trigger(broker, group, topic, activationLagThreshold=lag, wakeOnProduce=wake)
        stream = Stream(ballast, f"wake-{trial}", metadata)
        try:
            first = stream.next(timeout=20)
            assert first["result"] is False, first
            if wake:
                # Assigned, and past a Fetch that may still have been in flight for an
                # assignment the previous trial's edge stopped (the next poller turn ≤ 1 s).
                watched(ballast, partitions)
                time.sleep(2 * FETCH_WAIT_SECONDS + 0.2)
            else:
                time.sleep(0.2)
            sent = producer.send()
            edge = stream.next(timeout=20)
            assert edge["result"] is True, edge
            latencies.append(edge["at"] - sent)
            if wake and latencies[-1] > 0.2:
                print(f"\n[wake] trial {trial}: produced at {sent:.3f}, edge {latencies[-1] * 1000:.0f} ms later")
            lag += 1
        finally:
            stream.close()
    return latencies, lag


def test_one_record_on_an_idle_topic_brings_the_edge_without_touching_the_group(kafka_broker, ballast):
    topic, group = unique("idle"), unique("workers")
    kafka_broker.create_topic(topic, partitions=3)
    kafka_broker.commit(group, topic, {0: 0, 1: 0, 2: 0})
    committed_before = kafka_broker.describe_group(group)
    groups_before = list_groups(kafka_broker)
    producer = Producer(kafka_broker, topic)
    try:
        # One record first, so the producer's JVM and metadata are warm before any timing.
        producer.send()
        wait_for("the warm-up record", lambda: log_end(kafka_broker, group, topic) == 1, 60, interval=0.5)
        wake, lag = edge_latencies(ballast, kafka_broker, producer, group, topic, 3, TRIALS, True, 1)
        polled, lag = edge_latencies(ballast, kafka_broker, producer, group, topic, 3, POLL_TRIALS, False, lag)
    finally:
        producer.close()
    wake_stats, poll_stats = percentiles(wake), percentiles(polled)
    print()
    show("produce -> StreamIsActive true, wakeOnProduce (default)", wake_stats)
    show("produce -> StreamIsActive true, wakeOnProduce=false (1 s polling)", poll_stats)
    assert wake_stats["p50"] < 0.1, wake_stats
    assert wake_stats["p50"] < poll_stats["p50"], (wake_stats, poll_stats)

    # The workload's group: the same committed offsets (only the log ends moved), and no
    # group of ballast's own appeared: the watcher is assigned, never subscribed.
    committed_after = kafka_broker.describe_group(group)
    assert {tp: row[0] for tp, row in committed_after.items()} == {tp: row[0] for tp, row in committed_before.items()}
    assert log_end(kafka_broker, group, topic) == lag
    assert list_groups(kafka_broker) - groups_before == set()


def test_idle_triggers_on_one_topic_share_one_watcher_and_new_partitions_join(kafka_broker, ballast):
    topic = unique("shared")
    kafka_broker.create_topic(topic, partitions=3)
    # Never-committed groups with scaleToZeroOnInvalidOffset: lag 0, inactive, and kept so.
    streams = [Stream(ballast, f"shared-{i}", trigger(kafka_broker, unique("idle"), topic,
                                                      scaleToZeroOnInvalidOffset=True)) for i in range(10)]
    try:
        for stream in streams:
            assert stream.next(timeout=20)["result"] is False
        watched(ballast, 3)
        assert metrics(ballast)["ballast_kafka_watchers"] == 1

        kafka_broker.tool("org.apache.kafka.tools.TopicCommand", "--alter", "--topic", topic, "--partitions", "4")
        started = time.monotonic()
        wait_for("the added partition to be watched",
                 lambda: metrics(ballast)["ballast_kafka_watched_partitions"] == 4, 45, interval=0.2)
        print(f"\n[wake] added partition watched after {time.monotonic() - started:.1f} s")
        assert metrics(ballast)["ballast_kafka_watchers"] == 1
        time.sleep(FETCH_WAIT_SECONDS + 0.3)
        wakes = metrics(ballast)["ballast_kafka_wakes_total"]
        kafka_broker.produce(topic, 1, partition=3)
        wait_for("a wake from the added partition",
                 lambda: metrics(ballast)["ballast_kafka_wakes_total"] > wakes, 10, interval=0.05)
    finally:
        for stream in streams:
            stream.close()
    wait_for("the watcher to stop once nobody waits", lambda: metrics(ballast)["ballast_kafka_watchers"] == 0, 20)


def test_the_watcher_recovers_after_a_broker_restart(kafka_broker, tmp_path):
    # Its own ballast, with only triggers that name a topic (see test_kafka.py for the
    # librdkafka 2.0.2 abort under topic-less triggers across a restart).
    ballast = BallastProcess(tmp_path)
    topic, group = unique("restart-wake"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.commit(group, topic, {0: 0})
    # Polled every minute: within the test's bound only the watcher can bring the edge.
    stream = Stream(ballast, "restart-wake", trigger(kafka_broker, group, topic, pollInterval="60s"))
    try:
        assert stream.next(timeout=20)["result"] is False
        watched(ballast, 1)
        kafka_broker.stop()
        time.sleep(5)
        kafka_broker.start()
        time.sleep(5)  # reconnects (backoff ≤ 1 s) and its fetch resumes at the position it had
        assert metrics(ballast)["ballast_kafka_watchers"] == 1
        sent = time.time()
        kafka_broker.produce(topic, 1)
        edge = stream.next(timeout=30)
        assert edge["result"] is True
        print(f"\n[wake] edge {edge['at'] - sent:.3f} s after a produce that followed a broker restart "
              "(pollInterval 60 s)")
        assert edge["at"] - sent < 10
    except BaseException:
        if ballast.aborted_in_librdkafka():
            pytest.fail(f"ballast aborted inside librdkafka {librdkafka_version()} across a broker restart: "
                        f"{ballast.aborted_in_librdkafka()}")
        raise
    finally:
        stream.close()
        ballast.stop()
