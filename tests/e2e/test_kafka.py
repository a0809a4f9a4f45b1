"""ballast's `source: kafka` against a real Apache Kafka 4 broker (KRaft, one node).

The oracle is Kafka itself: committed offsets and log-end offsets as Kafka's own
kafka-consumer-groups tool reports them, turned into KEDA's kafka-scaler lag with
`keda_lag` (KEDA's per-partition rules; see the kafka source's README). Each test uses
its own topics and groups, so the tests share one broker and one ballast.
"""

import subprocess
import time

import pytest

from kafka_fixtures import *  # noqa: F401,F403  (fixtures: kafka_broker, ballast_scaler)
from kafka_fixtures import BallastProcess, librdkafka_version, sasl_profile, unique, wait_for

# A poll of the kafka source answers within its pollInterval (1 s by default); a value
# that has not shown up after this long never will.
SETTLE_SECONDS = 20


def keda_lag(rows, offset_reset_policy="latest"):
    """KEDA's kafka scaler, per partition: high watermark − committed; with no committed
    offset, 1 (latest) or the high watermark (earliest, log start not subtracted)."""
    total = 0
    for committed, log_end in rows:
        if committed is None:
            total += 1 if offset_reset_policy == "latest" else log_end
        else:
            total += log_end - committed
    return total


def trigger(broker, group, topic=None, **extra):
    metadata = {"source": "kafka", "bootstrapServers": broker.bootstrap, "consumerGroup": group,
                "lagThreshold": "1", "allowIdleConsumers": "true"}
    if topic:
        metadata["topic"] = topic
    metadata.update({key: str(value).lower() if isinstance(value, bool) else str(value)
                     for key, value in extra.items()})
    return metadata


def settle(ballast, name, metadata, expected):
    """Waits until GetMetrics says `expected`; returns the seconds it took."""
    started = time.monotonic()
    wait_for(f"{name} = {expected}", lambda: ballast.metric(name, metadata) == expected, SETTLE_SECONDS)
    return time.monotonic() - started


def test_lag_of_a_real_group_is_produced_minus_committed(kafka_broker, ballast_scaler):
    topic, group = unique("orders"), unique("workers")
    kafka_broker.create_topic(topic, partitions=3)
    for partition, count in enumerate([5, 7, 9]):
        kafka_broker.produce(topic, count, partition=partition)
    kafka_broker.commit(group, topic, {0: 2, 1: 0, 2: 9})

    described = kafka_broker.describe_group(group)
    assert described == {(topic, 0): (2, 5), (topic, 1): (0, 7), (topic, 2): (9, 9)}
    expected = keda_lag(described.values())
    assert expected == 3 + 7 + 0

    metadata = trigger(kafka_broker, group, topic)
    took = settle(ballast_scaler, "lag", metadata, expected)
    polled = ballast_scaler.probe("lag", metadata)
    assert polled["active"] == {"code": "OK", "message": "", "result": True}
    print(f"\n[timing] first correct lag after {took:.1f} s")

    # A real member (librdkafka, classic protocol) reads to the end and commits: lag 0, inactive.
    kafka_broker.consume(group, topic)
    assert keda_lag(kafka_broker.describe_group(group).values()) == 0
    settle(ballast_scaler, "lag", metadata, 0)
    assert ballast_scaler.probe("lag", metadata)["active"]["result"] is False


def test_lag_is_capped_at_the_partition_count_unless_idle_consumers_are_allowed(kafka_broker, ballast_scaler):
    topic, group = unique("capped"), unique("workers")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, 30, partition=0)
    kafka_broker.commit(group, topic, {0: 0, 1: 0})
    settle(ballast_scaler, "uncapped", trigger(kafka_broker, group, topic), 30)
    # 30 records, lagThreshold 5, 2 partitions: KEDA caps at 2 × 5 = 10.
    settle(ballast_scaler, "capped",
           trigger(kafka_broker, group, topic, lagThreshold=5, allowIdleConsumers=False), 10)


@pytest.mark.parametrize("policy", ["latest", "earliest"])
def test_partition_without_committed_offset_follows_offset_reset_policy(kafka_broker, ballast_scaler, policy):
    topic, group = unique("reset"), unique("workers")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, 3, partition=0)
    kafka_broker.produce(topic, 4, partition=1)
    kafka_broker.commit(group, topic, {0: 1})  # partition 1: never committed
    # latest: 2 + 1 (one consumer kept to commit); earliest: 2 + 4 (the whole partition).
    expected = {"latest": 3, "earliest": 6}[policy]
    assert keda_lag([(1, 3), (None, 4)], policy) == expected
    settle(ballast_scaler, f"reset-{policy}", trigger(kafka_broker, group, topic, offsetResetPolicy=policy), expected)


def test_unknown_group_counts_as_uncommitted_everywhere(kafka_broker, ballast_scaler):
    topic = unique("fresh")
    kafka_broker.create_topic(topic, partitions=3)
    kafka_broker.produce(topic, 4, partition=2)
    group = unique("never-committed")
    settle(ballast_scaler, "unknown-latest", trigger(kafka_broker, group, topic), 3)  # 1 per partition
    settle(ballast_scaler, "unknown-earliest",
           trigger(kafka_broker, group, topic, offsetResetPolicy="earliest"), 4)


def test_earliest_after_delete_records_counts_from_the_log_end_as_keda_does(kafka_broker, ballast_scaler):
    topic, group = unique("trimmed"), unique("workers")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, 2, partition=0)
    kafka_broker.produce(topic, 10, partition=1)
    kafka_broker.commit(group, topic, {0: 2})
    kafka_broker.delete_records(topic, 1, 8)  # log start of partition 1 moves to 8
    # KEDA: the high watermark, records deleted or not (keda#7936); earliestFromLogStart: 10 − 8.
    settle(ballast_scaler, "trimmed-keda", trigger(kafka_broker, group, topic, offsetResetPolicy="earliest"), 10)
    settle(ballast_scaler, "trimmed-logstart",
           trigger(kafka_broker, group, topic, offsetResetPolicy="earliest", earliestFromLogStart=True), 2)


def test_trigger_without_topic_sums_every_topic_the_group_committed_to(kafka_broker, ballast_scaler):
    first, second, untouched = unique("a"), unique("b"), unique("c")
    group = unique("multi")
    for topic in (first, second, untouched):
        kafka_broker.create_topic(topic, partitions=2)
        kafka_broker.produce(topic, 6, partition=0)
    kafka_broker.commit(group, first, {0: 1, 1: 0})
    kafka_broker.commit(group, second, {0: 4})
    described = kafka_broker.describe_group(group)
    assert {topic for topic, _ in described} == {first, second}
    # KEDA takes the topics from the group's committed offsets, then every partition of those
    # topics: second[1] has no commit (latest: 1); the untouched topic is not counted at all.
    rows = list(described.values()) + [(None, 0)]
    expected = keda_lag(rows)
    assert expected == (6 - 1) + (0 - 0) + (6 - 4) + 1
    settle(ballast_scaler, "topicless", trigger(kafka_broker, group), expected)


def test_deleted_topic_is_an_error_not_a_zero(kafka_broker, ballast_scaler):
    topic, group = unique("doomed"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 5)
    kafka_broker.commit(group, topic, {0: 1})
    metadata = trigger(kafka_broker, group, topic, maxStaleness="4s")
    settle(ballast_scaler, "doomed", metadata, 4)
    kafka_broker.delete_topic(topic)
    seen = []

    def failed():
        polled = ballast_scaler.probe("doomed", metadata)
        seen.append(polled["metrics"].get("value"))
        return polled["metrics"]["code"] != "OK" and polled
    final = wait_for("GetMetrics to fail after the topic is deleted", failed, SETTLE_SECONDS, interval=0.5)
    print(f"\n[deleted topic] values seen: {seen}; then {final['metrics']}")
    assert 0 not in seen and 0.0 not in seen


def test_deleted_group_reads_as_never_committed_as_keda_does(kafka_broker, ballast_scaler):
    # After DeleteGroups Kafka answers OffsetFetch with no committed offset (-1) for every
    # partition and no error: KEDA's invalid-offset rule applies (1 per partition under
    # `latest`), the same as for a group that never committed. Never an error read as 0.
    topic, group = unique("orphaned"), unique("workers")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, 6, partition=0)
    kafka_broker.commit(group, topic, {0: 2, 1: 0})
    metadata = trigger(kafka_broker, group, topic)
    settle(ballast_scaler, "orphaned", metadata, 4)
    kafka_broker.delete_group(group)
    assert kafka_broker.describe_group(group) == {}
    seen = []

    def settled():
        polled = ballast_scaler.probe("orphaned", metadata)
        seen.append(polled["metrics"].get("value") if polled["metrics"]["code"] == "OK" else polled["metrics"]["code"])
        return polled["metrics"]["code"] == "OK" and polled["metrics"]["value"] == keda_lag([(None, 6), (None, 0)])
    wait_for("the deleted group's lag under KEDA's invalid-offset rule", settled, SETTLE_SECONDS, interval=0.5)
    print(f"\n[deleted group] values seen: {seen}")
    assert 0 not in seen and 0.0 not in seen


def test_sasl_plain_through_an_auth_profile(kafka_broker, ballast_scaler):
    topic, group = unique("secure"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 3)
    kafka_broker.commit(group, topic, {0: 1})
    metadata = trigger(kafka_broker, group, topic, auth="e2e-plain")
    metadata["bootstrapServers"] = kafka_broker.sasl_bootstrap
    took = settle(ballast_scaler, "secure", metadata, 2)
    print(f"\n[timing] first value over SASL/PLAIN after {took:.1f} s")


def test_scram_profile_is_refused_at_start_up_with_a_librdkafka_before_2_6_1(kafka_broker, tmp_path):
    # librdkafka before 2.6.1 repeats the client nonce in the SCRAM client-final message and
    # Kafka 4 checks it exactly: every login fails. ballast refuses such a profile when it
    # starts, naming the version and the way out, instead of failing every poll.
    if librdkafka_version() >= (2, 6, 1):
        pytest.skip(f"librdkafka {librdkafka_version()} logs in with SCRAM")
    config = tmp_path / "ballast.yaml"
    config.write_text(sasl_profile(tmp_path, kafka_broker, "e2e-scram", "SCRAM-SHA-512"))
    binary = BallastProcess.binary_path()
    done = subprocess.run([str(binary), "serve", "--config", str(config), "--components", "scaler",
                           "--grpc-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=30)
    output = done.stdout + done.stderr
    print(f"\n[scram] exit {done.returncode}: {output.strip().splitlines()[0] if output.strip() else ''}")
    assert done.returncode != 0
    version = ".".join(str(part) for part in librdkafka_version())
    assert 'auth profile \\"e2e-scram\\"' in output and f"librdkafka {version}" in output and "2.6.1" in output
    assert kafka_broker.scram_password not in output


def test_first_get_metrics_of_a_new_trigger_is_answered(kafka_broker, ballast_scaler):
    # KEDA calls GetMetricSpec and then GetMetrics at once for a new ScaledObject: the first
    # GetMetrics waits for the source's first poll instead of answering UNAVAILABLE.
    topic, group = unique("first"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 2)
    kafka_broker.commit(group, topic, {0: 0})
    started = time.monotonic()
    polled = ballast_scaler.probe("first", trigger(kafka_broker, group, topic))
    print(f"\n[timing] first KEDA poll (spec, metrics, active) of a new trigger: {time.monotonic() - started:.2f} s")
    assert polled["metrics"]["code"] == "OK", polled
    assert polled["metrics"]["value"] == 2


def test_broker_restart_under_a_topicless_trigger_leaves_ballast_running(kafka_broker, tmp_path):
    # A topic-less trigger asks for every committed offset of its group (ListConsumerGroupOffsets
    # without partitions) first in each round. Through librdkafka's coordinator lookup, a
    # request that timed out while the broker was down aborted the whole process when the
    # broker came back (rd_kafka_enq_once_del_source_return: eonce->refcnt > 0; 5 of 7 runs).
    # ballast now names the broker for each group itself (coordinators.h), so it must survive.
    ballast = BallastProcess(tmp_path)
    topic, group = unique("restart"), unique("workers")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 3)
    kafka_broker.commit(group, topic, {0: 1})
    metadata = trigger(kafka_broker, group)
    try:
        settle(ballast, "restart", metadata, 2)
        kafka_broker.stop()
        time.sleep(8)
        kafka_broker.start()
        # A new record: only a poll after the restart can report it.
        kafka_broker.produce(topic, 1)
        took = settle(ballast, "restart", metadata, 3)
        print(f"\n[timing] new value {took:.1f} s after the broker restarted and a record was produced")
        time.sleep(3)  # the abort came a moment after the coordinator was back
        assert ballast.process.poll() is None, f"ballast exited: {ballast.aborted_in_librdkafka()}"
    except BaseException:
        if ballast.aborted_in_librdkafka():
            pytest.fail(f"ballast aborted inside librdkafka {librdkafka_version()} across a broker restart "
                        f"with a topic-less trigger: {ballast.aborted_in_librdkafka()}")
        raise
    finally:
        ballast.stop()


def test_broker_outage_keeps_the_last_value_then_unavailable_never_zero(kafka_broker, ballast_scaler):
    # Last in the module: the module's ballast has every earlier test's triggers still polled
    # (a deleted topic, a topic-less group, ...), as a real deployment would when its broker
    # restarts; should it crash, no later test depends on it.
    ballast = ballast_scaler
    topic = unique("outage")
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, 6)
    groups = [unique("workers") for _ in range(4)]
    for group in groups:
        kafka_broker.commit(group, topic, {0: 1})
    metadata = trigger(kafka_broker, groups[0], topic, maxStaleness="6s")
    try:
        for index, group in enumerate(groups[1:]):
            settle(ballast, f"busy-{index}", trigger(kafka_broker, group, topic), 5)
        settle(ballast, "outage", metadata, 5)

        stop_started = time.monotonic()
        kafka_broker.stop()
        stopped = time.monotonic()
        timeline = []
        try:
            def unavailable():
                polled = ballast.probe("outage", metadata)
                timeline.append((round(time.monotonic() - stopped, 1), polled["metrics"].get("code"),
                                 polled["metrics"].get("value")))
                return polled["metrics"].get("code") == "UNAVAILABLE"
            wait_for("UNAVAILABLE after maxStaleness", unavailable, 30, interval=0.5)
        finally:
            restart_started = time.monotonic()
            kafka_broker.start()
            restart_seconds = time.monotonic() - restart_started
        print(f"\n[timing] broker stop took {stopped - stop_started:.1f} s; outage timeline "
              f"(s since stopped, code, value): {timeline}")
        values = [value for _, code, value in timeline if code == "OK"]
        assert values and all(value == 5 for value in values), "the last good value is kept, never 0"
        first_unavailable = next(t for t, code, _ in timeline if code == "UNAVAILABLE")
        assert first_unavailable >= 2, "the last good value is served for most of maxStaleness"

        # The broker comes back on the same ports with its data: the value returns.
        took = settle(ballast, "outage", metadata, 5)
        print(f"[timing] broker restart {restart_seconds:.1f} s; value back {took:.1f} s after")
    except BaseException:
        if ballast.aborted_in_librdkafka():
            pytest.fail(f"ballast aborted inside librdkafka {librdkafka_version()} while the broker stopped "
                        f"or came back: {ballast.aborted_in_librdkafka()}")
        raise
