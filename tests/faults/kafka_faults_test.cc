// The fault suite, Kafka part: `ballast serve` reads consumer-group lag from librdkafka's
// mock cluster (real Kafka protocol on loopback) while brokers, leaders, coordinators and
// topics fail under it, faults a single real broker cannot be made to show on demand. For
// every fault KEDA reads the last good value or UNAVAILABLE, never a zero or a partial sum;
// ballast stays up with bounded memory, recovers on its own, and its log and /metrics name
// the failing cluster. The real broker's restart and topic deletion are in
// tests/e2e/test_kafka.py; NOT_COORDINATOR answers and a coordinator down past the request
// timeout in tests/integration/kafka_test.cc.
#include <catch2/catch.hpp>

#include <array>

#include "demo/support/mock_cluster.h"
#include "scaler_under_fault.h"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kPollInterval = 200ms;
constexpr auto kMaxStaleness = 2s;
// Produced 5, 7, 9 and committed 2, 0, 9 on partitions 0, 1, 2: lag 3 + 7 + 0.
constexpr double kLag = 10;
constexpr const char* kTopic = "speech-requests";
constexpr const char* kGroup = "stt-workers";
constexpr int kUnknownTopicOrPartition = 3;

// Three brokers, partition p led by broker `leaders[p]`, the group's offsets coordinated by
// broker `coordinator`, and a ballast whose trigger has read the lag once.
struct KafkaFault {
  explicit KafkaFault(std::array<int32_t, 3> leaders = {1, 2, 3}, int32_t coordinator = 1) {
    auto started = kafka::MockCluster::start(3);
    REQUIRE(started.ok());
    cluster = std::move(*started);
    REQUIRE(cluster->create_topic(kTopic, 3).ok());
    for (int32_t p = 0; p < 3; ++p) REQUIRE(cluster->set_partition_leader(kTopic, p, leaders[p]).ok());
    REQUIRE(cluster->set_group_coordinator(kGroup, coordinator).ok());
    const int produced[] = {5, 7, 9};
    const int64_t committed[] = {2, 0, 9};
    for (int32_t p = 0; p < 3; ++p) {
      REQUIRE(cluster->produce(kTopic, p, produced[p]).ok());
      REQUIRE(cluster->commit(kGroup, kTopic, p, committed[p]).ok());
    }
    ref = scaler::scaled_object_ref("ai-services", "stt-worker",
                                    {{"source", "kafka"},
                                     {"bootstrapServers", cluster->bootstrap_servers()},
                                     {"consumerGroup", kGroup},
                                     {"topic", kTopic},
                                     {"lagThreshold", "5"},
                                     {"allowIdleConsumers", "true"},
                                     {"pollInterval", "200ms"},
                                     {"maxStaleness", "2s"}});
    const auto first = recovers_to(ballast.stub(), ref, kLag, 15s);
    INFO(describe(first));
    REQUIRE(first.metrics_status.ok());
    rss_before_kib = ballast.rss_kib();
  }

  // KEDA's view from the fault on, until UNAVAILABLE or `limit`: nothing but the last good
  // value or UNAVAILABLE.
  FaultWatch rides_out(std::chrono::milliseconds limit) {
    auto watch = watch_fault(ballast.stub(), ref, kLag, limit);
    INFO("wrong answers during the fault:\n" << joined(watch.wrong) << "last: " << describe(watch.last));
    CHECK(watch.wrong.empty());
    CHECK(watch.last_good_at >= 0ms);
    return watch;
  }

  // A fault that lasts: UNAVAILABLE once the last good value is older than maxStaleness.
  FaultWatch goes_unavailable() {
    auto watch = rides_out(15s);
    INFO("last: " << describe(watch.last));
    REQUIRE(watch.unavailable_at >= 0ms);
    CHECK(watch.unavailable_at >= kMaxStaleness - kPollInterval - 100ms);
    return watch;
  }

  // Back to the full lag without a restart; the process never died, memory is back near
  // where it was; with `failed`, the log and /metrics name the cluster that failed.
  void recovers(bool failed) {
    recovers_on_its_own(ballast, ref, kLag, 20s, rss_before_kib);
    if (!failed) return;

    // The cluster is named by its bootstrap servers, in ballast's (sorted) order.
    const auto names_cluster = [this](const std::string& line) {
      std::istringstream servers(cluster->bootstrap_servers());
      std::string server;
      while (std::getline(servers, server, ',')) {
        if (line.find(server) == std::string::npos) return false;
      }
      return true;
    };
    const auto metrics = ballast.metrics();
    INFO(joined(lines_with(metrics, "errors_total")));
    const auto poll_errors = lines_with(metrics, "ballast_kafka_poll_errors_total{cluster=");
    REQUIRE(poll_errors.size() == 1);
    CHECK(names_cluster(poll_errors[0]));
    CHECK(sample_of(poll_errors[0]) >= 1);
    const auto source_errors = lines_with(metrics, "ballast_source_errors_total{source_key=\"kafka|servers=");
    REQUIRE(source_errors.size() == 1);
    CHECK(names_cluster(source_errors[0]));
    CHECK(sample_of(source_errors[0]) >= 1);

    const auto log = ballast.log();
    INFO(log);
    const auto failing = lines_with(log, "kafka source failing");
    REQUIRE_FALSE(failing.empty());
    CHECK(names_cluster(failing[0]));
    CHECK(failing[0].find(kGroup) != std::string::npos);
    CHECK_FALSE(lines_with(log, "kafka source recovered").empty());
  }

  std::unique_ptr<kafka::MockCluster> cluster;
  ScalerUnderFault ballast;
  externalscaler::ScaledObjectRef ref;
  long rss_before_kib = 0;
};

}  // namespace

TEST_CASE("all brokers down: last lag, then UNAVAILABLE from GetMetrics and IsActive, then back", "[faults][kafka]") {
  KafkaFault fault;
  for (int32_t broker = 1; broker <= 3; ++broker) REQUIRE(fault.cluster->set_broker_down(broker).ok());
  fault.goes_unavailable();
  for (int32_t broker = 1; broker <= 3; ++broker) REQUIRE(fault.cluster->set_broker_up(broker).ok());
  fault.recovers(true);
}

TEST_CASE("one of three brokers down: never the partial lag of the partitions still reachable", "[faults][kafka]") {
  KafkaFault fault;
  REQUIRE(fault.cluster->set_broker_down(2).ok());  // leader of partition 1, holding 7 of the 10
  SECTION("until it returns") {
    fault.goes_unavailable();
    REQUIRE(fault.cluster->set_broker_up(2).ok());
    fault.recovers(true);
  }
  SECTION("while the controller moves its partition to a live broker") {
    std::this_thread::sleep_for(kPollInterval);
    REQUIRE(fault.cluster->set_partition_leader(kTopic, 1, 3).ok());
    // The full lag again from the new leader, with nothing but the last value or
    // UNAVAILABLE meanwhile.
    fault.rides_out(3s);
    fault.recovers(false);
    REQUIRE(fault.cluster->produce(kTopic, 1, 2).ok());  // through the new leader
    const auto moved = recovers_to(fault.ballast.stub(), fault.ref, kLag + 2, 15s);
    CHECK(moved.value == kLag + 2);
  }
}

TEST_CASE("the group coordinator's broker goes down and the coordinator moves: offsets come from the new one",
          "[faults][kafka]") {
  // Partitions led by brokers 2 and 3; broker 1 only coordinates the group.
  KafkaFault fault({2, 3, 2}, 1);
  REQUIRE(fault.cluster->set_broker_down(1).ok());
  REQUIRE(fault.cluster->set_group_coordinator(kGroup, 3).ok());
  fault.rides_out(3s);
  fault.recovers(false);
  // A commit through the new coordinator shows up: ballast reads it there.
  REQUIRE(fault.cluster->commit(kGroup, kTopic, 1, 4).ok());
  const auto committed = recovers_to(fault.ballast.stub(), fault.ref, kLag - 4, 15s);
  CHECK(committed.value == kLag - 4);
  REQUIRE(fault.cluster->set_broker_up(1).ok());
  CHECK(fault.ballast.running());
}

TEST_CASE("a deleted topic is UNAVAILABLE naming the topic, never a lag of 0; recreated, it is read again",
          "[faults][kafka]") {
  KafkaFault fault;
  fault.cluster->set_topic_error(kTopic, kUnknownTopicOrPartition);
  const auto watch = fault.goes_unavailable();
  CHECK(watch.last.metrics_status.error_message().find(kTopic) != std::string::npos);
  fault.cluster->set_topic_error(kTopic, 0);
  fault.recovers(true);
}
