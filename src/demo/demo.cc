#include "demo/demo.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <openssl/rand.h>

#include "app/application.h"
#include "app/signals.h"
#include "externalscaler.grpc.pb.h"
#include "scaler/client/keda_client.h"
#include "scaler/activation.h"
#include "scaler/trigger_spec.h"
#include "demo/support/mock_cluster.h"
#include "demo/support/session_publisher.h"

namespace ballast::demo {

using app::Application;
using app::block_termination_signals;
using app::wait_for_termination_signal;

namespace {

struct ExampleScaledObject {
  std::string namespace_name;
  std::string name;
  scaler::Metadata metadata;
  int64_t min_replicas;
  int64_t max_replicas;
};

constexpr const char* kDemoTopic = "stt-requests";
constexpr const char* kDemoGroup = "stt-workers";
constexpr int kDemoPartitions = 4;

// The platform ballast was designed for: speech-to-text workers drain a Redpanda topic,
// interview rooms and the signaling gateway push live session counts.
std::vector<ExampleScaledObject> example_scaled_objects(const std::string& bootstrap_servers) {
  return {
      {"ai-services", "stt-worker",
       {{"source", "kafka"}, {"bootstrapServers", bootstrap_servers}, {"consumerGroup", kDemoGroup},
        {"topic", kDemoTopic}, {"lagThreshold", "5"}},
       0, 10},
      {"ai-services", "tts-worker",
       {{"source", "sessions"}, {"counter", "tts_requests_inflight"}, {"threshold", "4"},
        {"activationThreshold", "1"}},
       0, 8},
      {"assessment", "interview-rooms",
       {{"source", "sessions"}, {"counter", "active_interviews"}, {"selector", "service=interview"},
        {"threshold", "2"}},
       0, 10},
      {"realtime", "signaling",
       {{"source", "sessions"}, {"counter", "active_connections"}, {"selector", "service=signaling"},
        {"threshold", "50"}},
       1, 6},
  };
}

std::string random_token() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  std::string hex;
  char digits[3];
  for (unsigned char b : bytes) {
    std::snprintf(digits, sizeof(digits), "%02x", b);
    hex += digits;
  }
  return hex;
}

std::string frame(const std::string& counter, const std::string& labels_json, int value) {
  return R"({"counter":")" + counter + R"(","labels":)" + labels_json + R"(,"value":)" + std::to_string(value) + "}";
}

// Three gateways publishing over real WebSocket connections, and a producer with a
// consumer group that falls behind in bursts. Interviews and requests come in waves with
// idle gaps so activation edges show up in the table.
void run_simulation(uint16_t port, const std::string& token, kafka::MockCluster& cluster,
                    const std::atomic<bool>& stopping) {
  std::vector<std::unique_ptr<sessions::SessionPublisher>> publishers;
  for (int i = 0; i < 3; ++i) {
    auto publisher = sessions::SessionPublisher::connect("127.0.0.1", port, token);
    if (!publisher) {
      std::cerr << "demo publisher: " << publisher.error().message << "\n";
      return;
    }
    publishers.push_back(std::move(*publisher));
  }
  std::mt19937 random(42);
  std::vector<int64_t> produced(kDemoPartitions, 0);
  int tick = 0;
  while (!stopping.load()) {
    const int phase = tick % 60;  // half-second ticks: a 30 s cycle
    const bool busy = phase >= 16;
    const int interviews = busy ? static_cast<int>(6 * std::sin((phase - 16) * M_PI / 44.0) + 0.5) : 0;
    const int tts = interviews == 0 ? 0 : std::uniform_int_distribution<int>(0, interviews * 2)(random);
    const int connections = 40 + static_cast<int>(60 * (1 + std::sin(tick / 20.0)));
    (void)publishers[0]->send(frame("active_interviews", R"({"service":"interview"})", interviews));
    (void)publishers[1]->send(frame("tts_requests_inflight", R"({"service":"tts"})", tts));
    (void)publishers[2]->send(frame("active_connections", R"({"service":"signaling"})", connections));
    for (int32_t partition = 0; partition < kDemoPartitions; ++partition) {
      // Audio chunks arrive while interviews run; the workers catch up fully when idle.
      if (busy) {
        const int burst = std::uniform_int_distribution<int>(0, 2 * interviews)(random);
        if (burst > 0 && cluster.produce(kDemoTopic, partition, burst).ok()) produced[partition] += burst;
      }
      const int64_t behind = busy ? std::uniform_int_distribution<int64_t>(0, 3 * interviews)(random) : 0;
      (void)cluster.commit(kDemoGroup, kDemoTopic, partition, std::max<int64_t>(0, produced[partition] - behind));
    }
    ++tick;
    for (int i = 0; i < 5 && !stopping.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& publisher : publishers) publisher->close();
}

externalscaler::ScaledObjectRef to_ref(const ExampleScaledObject& example) {
  return scaler::scaled_object_ref(example.namespace_name, example.name, example.metadata);
}

// One StreamIsActive per example, as KEDA opens for external-push triggers.
class PushWatcher {
 public:
  PushWatcher(std::shared_ptr<grpc::Channel> channel, externalscaler::ScaledObjectRef ref)
      : stub_(externalscaler::ExternalScaler::NewStub(channel)), ref_(std::move(ref)) {
    thread_ = std::thread([this] { run(); });
  }
  ~PushWatcher() {
    context_.TryCancel();
    thread_.join();
  }
  std::string last_event() const {
    std::lock_guard lock(mutex_);
    return last_event_;
  }

 private:
  void run() {
    const auto opened = std::chrono::steady_clock::now();
    (void)scaler::stream_is_active(*stub_, context_, ref_, [&](bool active) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - opened);
      std::lock_guard lock(mutex_);
      last_event_ = std::string(active ? "active" : "inactive") + " @" + std::to_string(seconds.count()) + "s";
    });
  }

  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
  externalscaler::ScaledObjectRef ref_;
  grpc::ClientContext context_;
  mutable std::mutex mutex_;
  std::string last_event_ = "-";
  std::thread thread_;
};

std::string table_row(const ExampleScaledObject& example, externalscaler::ExternalScaler::Stub& stub,
                      const PushWatcher& watcher) {
  const auto poll = scaler::keda_poll(stub, to_ref(example));
  char line[256];
  const std::string object = example.namespace_name + "/" + example.name;
  if (!poll.spec_status.ok()) {
    std::snprintf(line, sizeof(line), "%-28s GetMetricSpec failed: %s\n", object.c_str(),
                  poll.spec_status.error_message().c_str());
    return line;
  }
  if (!poll.metrics_status.ok() || !poll.active_status.ok()) {
    std::snprintf(line, sizeof(line), "%-28s %-38s %s\n", object.c_str(), poll.metric_name.c_str(),
                  (poll.metrics_status.ok() ? poll.active_status : poll.metrics_status).error_message().c_str());
    return line;
  }
  const auto replicas =
      scaler::expected_replicas(poll.value, poll.target, poll.active, example.min_replicas, example.max_replicas);
  std::snprintf(line, sizeof(line), "%-28s %-38s %7.1f %7.1f %-7s %4lld  [%lld..%lld]  %s\n", object.c_str(),
                poll.metric_name.c_str(), poll.value, poll.target, poll.active ? "yes" : "no", static_cast<long long>(replicas),
                static_cast<long long>(example.min_replicas), static_cast<long long>(example.max_replicas),
                watcher.last_event().c_str());
  return line;
}

std::string banner(const Application& app, const std::string& token, const std::string& bootstrap_servers) {
  std::ostringstream out;
  const auto grpc = "127.0.0.1:" + std::to_string(app.grpc_port());
  const auto ws = "ws://127.0.0.1:" + std::to_string(app.sessions_port()) + "/v1/sessions";
  out << "ballast demo: ExternalScaler on " << grpc << ", session counters on " << ws << ", admin on http://127.0.0.1:"
      << app.admin_port() << "\n"
      << "sessions token: " << token << "\n"
      << "embedded Kafka (librdkafka mock cluster): " << bootstrap_servers << ", topic " << kDemoTopic
      << ", group " << kDemoGroup << "\n\n"
      << "Try it from another terminal:\n"
      << "  curl -s http://127.0.0.1:" << app.admin_port() << "/metrics | grep ballast_\n"
      << "  grpcurl -plaintext -import-path proto -proto externalscaler.proto -d '{\"scaledObjectRef\":"
         "{\"name\":\"stt-worker\",\"namespace\":\"ai-services\",\"scalerMetadata\":{\"source\":\"sessions\","
         "\"counter\":\"active_interviews\",\"selector\":\"service=interview\",\"threshold\":\"2\"}}}' "
      << grpc << " externalscaler.ExternalScaler/GetMetrics\n"
      << "  websocat -H 'Authorization: Bearer " << token << "' " << ws << "   then type:\n"
      << "    {\"counter\":\"active_interviews\",\"labels\":{\"service\":\"interview\"},\"value\":9}\n"
      << "Ctrl-C stops the demo.\n\n";
  return out.str();
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "ballast: demo takes no flags (it runs on 127.0.0.1 with embedded defaults)\n";
    return 2;
  }
  set_log_level(LogLevel::kWarn);
  block_termination_signals();
  Config config = default_config();
  config.scaler.grpc_address = "127.0.0.1:9090";
  config.sessions.address = "127.0.0.1:9091";
  config.admin.address = "127.0.0.1:9102";
  const std::string token = random_token();
  Application app(config, {token});
  if (auto started = app.start(); !started) {
    std::cerr << "ballast demo: " << started.error().message
              << " (is another ballast running? the demo uses ports 9090, 9091 and 9102)\n";
    app.stop();
    return 1;
  }

  auto cluster = kafka::MockCluster::start(1);
  if (!cluster) {
    std::cerr << "ballast demo: embedded Kafka: " << cluster.error().message << "\n";
    app.stop();
    return 1;
  }
  if (auto topic = (*cluster)->create_topic(kDemoTopic, kDemoPartitions); !topic) {
    std::cerr << "ballast demo: embedded Kafka: " << topic.error().message << "\n";
    app.stop();
    return 1;
  }
  std::atomic<bool> stopping{false};
  std::thread simulation([&] { run_simulation(app.sessions_port(), token, **cluster, stopping); });
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app.grpc_port()), grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const auto examples = example_scaled_objects((*cluster)->bootstrap_servers());
  std::vector<std::unique_ptr<PushWatcher>> watchers;
  for (const auto& example : examples) watchers.push_back(std::make_unique<PushWatcher>(channel, to_ref(example)));

  const bool interactive = isatty(STDOUT_FILENO) != 0;
  const std::string intro = banner(app, token, (*cluster)->bootstrap_servers());
  if (!interactive) std::cout << intro;
  char header[256];
  std::snprintf(header, sizeof(header), "%-28s %-38s %7s %7s %-7s %4s  %-8s  %s\n", "SCALEDOBJECT", "METRIC", "VALUE",
                "TARGET", "ACTIVE", "REPL", "[MIN..MAX]", "LAST PUSH (StreamIsActive)");
  while (!wait_for_termination_signal(std::chrono::seconds(1))) {
    std::string table = header;
    for (size_t i = 0; i < examples.size(); ++i) table += table_row(examples[i], *stub, *watchers[i]);
    if (interactive) {
      std::cout << "\033[H\033[2J" << intro << table << std::flush;
    } else {
      std::cout << table << "\n" << std::flush;
    }
  }
  stopping = true;
  simulation.join();
  app.stop();  // finishes the StreamIsActive streams with OK, so the watchers end
  watchers.clear();
  return 0;
}

}  // namespace ballast::demo
