// The kafka source against librdkafka's mock cluster (real Kafka protocol on loopback),
// read through the real ExternalScaler gRPC service the way KEDA reads it.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/metrics.h"
#include "externalscaler.grpc.pb.h"
#include "fakes/keda_client.h"
#include "scaler/grpc/grpc_server.h"
#include "scaler/metric_hub.h"
#include "sources/kafka/kafka_source.h"
#include "demo/support/mock_cluster.h"
#include "sources/kafka/produce_watcher.h"

using namespace ballast;
using namespace std::chrono_literals;
using externalscaler::ExternalScaler;
using Polled = testing::KedaPoll;
using testing::keda_poll;
using testing::poll_until;

// A poll round trips through the mock brokers before the hub has a value.
constexpr auto kBrokerWait = 10s;

namespace {

struct Harness {
  explicit Harness(std::map<std::string, AuthProfile> auth_profiles = {})
      : cluster(start_cluster()), hub(clock), source(hub, auth_profiles, metrics, clock) {
    ScalerConfig config;
    config.grpc_address = "127.0.0.1:0";
    auto started = scaler::GrpcServer::start(config, hub, scaler::Sources{{scaler::SourceKind::kKafka, &source}}, metrics);
    INFO((started.ok() ? "" : started.error().message));
    REQUIRE(started.ok());
    server = std::move(*started);
    stub = ExternalScaler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  }
  ~Harness() {
    server->shutdown(1s);
    source.stop();
  }
  static std::unique_ptr<kafka::MockCluster> start_cluster() {
    auto started = kafka::MockCluster::start(3);
    REQUIRE(started.ok());
    return std::move(*started);
  }

  externalscaler::ScaledObjectRef ref(const std::string& group, const std::string& topic,
                                      std::map<std::string, std::string> extra = {}) const {
    externalscaler::ScaledObjectRef out;
    out.set_name(group);
    out.set_namespace_("ai-services");
    auto& metadata = *out.mutable_scalermetadata();
    metadata["scalerAddress"] = "ballast.ballast-system.svc:9090";
    metadata["source"] = "kafka";
    metadata["bootstrapServers"] = cluster->bootstrap_servers();
    metadata["consumerGroup"] = group;
    metadata["topic"] = topic;
    for (auto& [key, value] : extra) metadata[key] = value;
    return out;
  }

  std::unique_ptr<kafka::MockCluster> cluster;
  SteadyClock clock;
  scaler::MetricHub hub;
  MetricsRegistry metrics;
  kafka::KafkaSource source;
  std::unique_ptr<scaler::GrpcServer> server;
  std::unique_ptr<ExternalScaler::Stub> stub;
};

void commit_all(kafka::MockCluster& cluster, const std::string& group, const std::string& topic, int partitions,
                int64_t offset) {
  for (int p = 0; p < partitions; ++p) REQUIRE(cluster.commit(group, topic, p, offset).ok());
}

}  // namespace

TEST_CASE("KEDA's poll sees consumer-group lag as messages are produced and committed", "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("speech-requests", 4).ok());
  REQUIRE(cluster.produce("speech-requests", 0, 30).ok());
  REQUIRE(cluster.commit("stt-workers", "speech-requests", 0, 10).ok());
  const auto ref = harness.ref("stt-workers", "speech-requests");

  // Partition 0: 30 − 10 = 20; partitions 1-3 never committed: 1 each under `latest`.
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 23; }, kBrokerWait);
  REQUIRE(polled.metrics_status.ok());
  CHECK(polled.value == 23);
  CHECK(polled.active);

  REQUIRE(cluster.commit("stt-workers", "speech-requests", 0, 30).ok());
  commit_all(cluster, "stt-workers", "speech-requests", 4, 0);
  REQUIRE(cluster.commit("stt-workers", "speech-requests", 0, 30).ok());
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 0; }, kBrokerWait);
  CHECK(polled.value == 0);
  CHECK_FALSE(polled.active);
}

TEST_CASE("KEDA's first poll of a new trigger gets its value, not UNAVAILABLE", "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("ocr-requests", 2).ok());
  REQUIRE(cluster.produce("ocr-requests", 1, 4).ok());
  commit_all(cluster, "ocr-workers", "ocr-requests", 2, 0);
  // One poll, as KEDA makes it for a new ScaledObject: GetMetricSpec, then GetMetrics at once.
  const auto polled = keda_poll(*harness.stub, harness.ref("ocr-workers", "ocr-requests"));
  REQUIRE(polled.metrics_status.ok());
  CHECK(polled.value == 4);
  CHECK(polled.active);
}

TEST_CASE("the first poll of a trigger on an unreachable cluster answers with the cause within KEDA's deadline",
          "[kafka][integration]") {
  Harness harness;
  auto ref = harness.ref("ocr-workers", "ocr-requests");
  (*ref.mutable_scalermetadata())["bootstrapServers"] = "127.0.0.1:1";  // nothing listens on port 1
  const auto started = std::chrono::steady_clock::now();
  const auto polled = keda_poll(*harness.stub, ref);
  CHECK(polled.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
  // The cause from the source's first poll (its 2 s request timeout), not "no value yet".
  CHECK(polled.metrics_status.error_message().find("no value has been observed yet") == std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 9s);
}

TEST_CASE("the partition cap and earliest policy hold on a real cluster", "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("tts-requests", 2).ok());
  REQUIRE(cluster.produce("tts-requests", 0, 100).ok());
  REQUIRE(cluster.produce("tts-requests", 1, 5).ok());

  // earliest, nothing committed: the whole log (105), capped at 2 partitions × 10.
  const auto capped = harness.ref("tts-workers", "tts-requests", {{"offsetResetPolicy", "earliest"}});
  auto polled = poll_until(*harness.stub, capped, [](const Polled& p) { return p.value == 20; }, kBrokerWait);
  CHECK(polled.value == 20);
  CHECK(polled.active);
  const auto uncapped = harness.ref("tts-workers", "tts-requests",
                                    {{"offsetResetPolicy", "earliest"}, {"allowIdleConsumers", "true"}});
  polled = poll_until(*harness.stub, uncapped, [](const Polled& p) { return p.value == 105; }, kBrokerWait);
  CHECK(polled.value == 105);
  // partitionLimitation picks partition 1 only.
  const auto limited = harness.ref("tts-workers", "tts-requests",
                                   {{"offsetResetPolicy", "earliest"}, {"partitionLimitation", "1"}});
  polled = poll_until(*harness.stub, limited, [](const Polled& p) { return p.value == 5; }, kBrokerWait);
  CHECK(polled.value == 5);
}

// While a group's coordinator moves (a Redpanda or Kafka rolling restart) the old one
// answers OffsetFetch with NOT_COORDINATOR. librdkafka 2.0.2 crashed on that answer on a
// handle without a consumer group (librdkafka#5040); these runs would end in SIGSEGV.
TEST_CASE("a coordinator move costs a retry on the next broker, or one failed round served from the last value",
          "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("tts-requests", 2).ok());
  REQUIRE(cluster.produce("tts-requests", 0, 12).ok());
  commit_all(cluster, "tts-workers", "tts-requests", 2, 0);
  const auto ref = harness.ref("tts-workers", "tts-requests");
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 12; }, kBrokerWait);
  REQUIRE(polled.value == 12);
  const auto errors = [&harness] {
    uint64_t total = 0;
    for (const auto& entry : harness.hub.status()) total += entry.errors;
    return total;
  };
  constexpr int16_t kOffsetFetch = 9;
  constexpr int kNotCoordinator = 16;

  // NOT_COORDINATOR from all but one broker: the group is asked of the next broker in the
  // same round, which gets the offsets.
  for (int broker = 1; broker < cluster.broker_count(); ++broker) {
    cluster.fail_next_request(kOffsetFetch, kNotCoordinator);
  }
  REQUIRE(cluster.produce("tts-requests", 1, 5).ok());
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 17; }, kBrokerWait);
  CHECK(polled.value == 17);
  CHECK(errors() == 0);

  // From every broker in a row: that round fails, KEDA keeps reading the last value, the
  // next round catches up.
  for (int broker = 1; broker <= cluster.broker_count(); ++broker) {
    cluster.fail_next_request(kOffsetFetch, kNotCoordinator);
  }
  REQUIRE(cluster.produce("tts-requests", 1, 3).ok());
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return !p.metrics_status.ok() || p.value == 20; },
                      kBrokerWait);
  CHECK(polled.metrics_status.ok());
  CHECK(polled.value == 20);
  CHECK(errors() == 1);
}

TEST_CASE("a group coordinator down past the request timeout, then back, leaves the process running",
          "[kafka][integration]") {
  // librdkafka 2.0.2's coordinator lookup for admin requests (and every release up to its
  // PR #5397) aborts the process in rd_kafka_enq_once_del_source_return when a request timed
  // out while it waited for the coordinator, and the coordinator then comes back. ballast
  // sends each group's OffsetFetch to a broker it names, so that path is never taken.
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("asr-requests", 1).ok());
  REQUIRE(cluster.set_group_coordinator("asr-workers", 3).ok());
  // Topic-less: the group's offsets are asked for before anything else in a round.
  auto ref = harness.ref("asr-workers", "", {{"pollInterval", "200ms"}, {"maxStaleness", "1s"}});
  ref.mutable_scalermetadata()->erase("topic");
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.metrics_status.ok(); }, kBrokerWait);
  REQUIRE(polled.metrics_status.ok());

  REQUIRE(cluster.set_broker_down(3).ok());
  // Several 1 s request timeouts pass while the coordinator is down. (The mock answers
  // OffsetFetch on any broker, so ballast's own requests need not fail meanwhile.)
  std::this_thread::sleep_for(4s);
  REQUIRE(cluster.set_broker_up(3).ok());
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.metrics_status.ok(); }, 20s);
  CHECK(polled.metrics_status.ok());
  CHECK(polled.value == 0);
}

TEST_CASE("StreamIsActive sends true as soon as lag appears", "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("notifications", 2).ok());
  commit_all(cluster, "notifiers", "notifications", 2, 0);
  const auto ref = harness.ref("notifiers", "notifications", {{"pollInterval", "200ms"}});
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.metrics_status.ok(); }, kBrokerWait);
  REQUIRE(polled.value == 0);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 15s);
  auto reader = harness.stub->StreamIsActive(&context, ref);
  externalscaler::IsActiveResponse response;
  REQUIRE(reader->Read(&response));
  CHECK_FALSE(response.result());

  REQUIRE(cluster.produce("notifications", 1, 1).ok());
  REQUIRE(reader->Read(&response));
  CHECK(response.result());
  context.TryCancel();
  reader->Finish();
}

TEST_CASE("brokers down: last good value until maxStaleness, then UNAVAILABLE, then recovery",
          "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("llm-requests", 3).ok());
  REQUIRE(cluster.produce("llm-requests", 0, 7).ok());
  commit_all(cluster, "llm-gateway", "llm-requests", 3, 0);
  const auto ref = harness.ref("llm-gateway", "llm-requests", {{"pollInterval", "200ms"}, {"maxStaleness", "2s"}});
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 7; }, kBrokerWait);
  REQUIRE(polled.value == 7);

  for (int broker = 1; broker <= cluster.broker_count(); ++broker) REQUIRE(cluster.set_broker_down(broker).ok());
  const auto down_at = std::chrono::steady_clock::now();
  polled = keda_poll(*harness.stub, ref);
  if (std::chrono::steady_clock::now() - down_at < 1500ms) {
    // Within maxStaleness the last good value is served, never a zero.
    REQUIRE(polled.metrics_status.ok());
    CHECK(polled.value == 7);
    CHECK(polled.active);
  }
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return !p.metrics_status.ok(); }, 15s);
  CHECK(polled.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(polled.active_status.error_code() == grpc::StatusCode::UNAVAILABLE);
  // Staleness counts from the last good poll, at most one pollInterval (200ms) before the
  // brokers went down.
  CHECK(std::chrono::steady_clock::now() - down_at >= 2s - 300ms);

  for (int broker = 1; broker <= cluster.broker_count(); ++broker) REQUIRE(cluster.set_broker_up(broker).ok());
  polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.metrics_status.ok(); }, 30s);
  REQUIRE(polled.metrics_status.ok());
  CHECK(polled.value == 7);
}

TEST_CASE("many triggers on one cluster share one client handle", "[kafka][integration]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("jobs", 2).ok());
  constexpr int kGroups = 12;
  for (int g = 0; g < kGroups; ++g) {
    const std::string group = "group-" + std::to_string(g);
    REQUIRE(cluster.commit(group, "jobs", 0, 0).ok());
    REQUIRE(cluster.commit(group, "jobs", 1, 0).ok());
  }
  REQUIRE(cluster.produce("jobs", 0, 3).ok());
  for (int g = 0; g < kGroups; ++g) {
    const auto ref = harness.ref("group-" + std::to_string(g), "jobs", {{"activationLagThreshold", std::to_string(g)}});
    auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.value == 3; }, kBrokerWait);
    CHECK(polled.value == 3);
    CHECK(polled.active == (3 > g));
  }
  CHECK(harness.source.cluster_handle_count() == 1);
}

TEST_CASE("an auth profile that is not configured is UNAVAILABLE naming it, never zero", "[kafka][integration]") {
  Harness harness;
  REQUIRE(harness.cluster->create_topic("secure", 1).ok());
  const auto ref = harness.ref("secure-workers", "secure", {{"auth", "missing-profile"}});
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) {
    return p.metrics_status.error_message().find("missing-profile") != std::string::npos;
  }, kBrokerWait);
  CHECK(polled.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(polled.metrics_status.error_message().find("missing-profile") != std::string::npos);
  CHECK(harness.source.cluster_handle_count() == 0);
}

TEST_CASE("wakeOnProduce: a message produced to an idle topic wakes a StreamIsActive stream long before the next poll",
          "[kafka][integration][wake]") {
  Harness harness;
  auto& cluster = *harness.cluster;
  REQUIRE(cluster.create_topic("uploads", 2).ok());
  commit_all(cluster, "transcoders", "uploads", 2, 0);
  // Polled every minute: only the watcher can bring the edge within the test's wait.
  const auto ref = harness.ref("transcoders", "uploads", {{"pollInterval", "60s"}});
  auto polled = poll_until(*harness.stub, ref, [](const Polled& p) { return p.metrics_status.ok(); }, kBrokerWait);
  REQUIRE(polled.value == 0);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto reader = harness.stub->StreamIsActive(&context, ref);
  externalscaler::IsActiveResponse response;
  REQUIRE(reader->Read(&response));
  CHECK_FALSE(response.result());

  auto& watched = harness.metrics.gauge("ballast_kafka_watched_partitions", "");
  auto& watchers = harness.metrics.gauge("ballast_kafka_watchers", "");
  const auto deadline = std::chrono::steady_clock::now() + kBrokerWait;
  while (watched.value() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(watched.value() == 2);
  CHECK(watchers.value() == 1);
  // The watcher's first fetch from the log end is on its way once it has waited this long.
  std::this_thread::sleep_for(2 * kafka::ProduceWatcher::kFetchWaitMax);

  const auto produced = std::chrono::steady_clock::now();
  REQUIRE(cluster.produce("uploads", 1, 1).ok());
  REQUIRE(reader->Read(&response));
  CHECK(response.result());
  CHECK(std::chrono::steady_clock::now() - produced < 10s);
  // Active: nothing left to watch.
  const auto stop_deadline = std::chrono::steady_clock::now() + kBrokerWait;
  while (watched.value() > 0 && std::chrono::steady_clock::now() < stop_deadline) std::this_thread::sleep_for(20ms);
  CHECK(watched.value() == 0);
  CHECK(watchers.value() == 0);
  context.TryCancel();
  reader->Finish();
}

namespace {

// A ProduceWatcher on its own, recording the keys it wakes.
struct WatcherHarness {
  explicit WatcherHarness(const kafka::MockCluster& cluster)
      : watcher("mock", {{"bootstrap.servers", cluster.bootstrap_servers()}},
                [this](const std::vector<std::string>& keys) {
                  {
                    std::lock_guard lock(mutex);
                    woken.insert(keys.begin(), keys.end());
                  }
                  woken_cv.notify_all();
                },
                kafka::ProduceWatcher::Metrics{metrics.gauge("ballast_kafka_watchers", ""),
                                               metrics.gauge("ballast_kafka_watched_partitions", ""),
                                               metrics.counter("ballast_kafka_wakes_total", "")}) {}

  std::set<std::string> woken_within(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex);
    woken_cv.wait_for(lock, wait, [this] { return !woken.empty(); });
    return woken;
  }

  MetricsRegistry metrics;
  std::mutex mutex;
  std::condition_variable woken_cv;
  std::set<std::string> woken;
  kafka::ProduceWatcher watcher;  // last: stopped before what its callback touches goes
};

}  // namespace

TEST_CASE("wakeOnProduce: a message produced after the poller's read but before the assignment wakes at once",
          "[kafka][integration][wake]") {
  auto cluster = Harness::start_cluster();
  REQUIRE(cluster->create_topic("uploads", 1).ok());
  REQUIRE(cluster->produce("uploads", 0, 3).ok());  // the poll that found the topic idle read high watermark 3
  REQUIRE(cluster->produce("uploads", 0, 1).ok());  // lands before the watcher's assignment takes effect
  const kafka::WakeSet wake = {{"uploads", {{"transcoders", {}}}}};

  SECTION("started at the read high watermark, the watcher fetches it") {
    WatcherHarness harness(*cluster);
    harness.watcher.set_wanted(wake, {{{"uploads", 0}, 3}});
    CHECK(harness.woken_within(kBrokerWait) == std::set<std::string>{"transcoders"});
  }
  SECTION("a partition the poller never read starts at the log end: the message waits for the next poll") {
    WatcherHarness harness(*cluster);
    harness.watcher.set_wanted(wake, {});
    CHECK(harness.woken_within(3 * kafka::ProduceWatcher::kFetchWaitMax).empty());
  }
}
