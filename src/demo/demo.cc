#include "demo/demo.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include "app/application.h"
#include "app/signals.h"
#include "core/base64.h"
#include "core/thread_name.h"
#include "core/timestamp.h"
#include "demo/embedded_data.h"
#include "demo/self_signed.h"
#include "demo/support/mock_cluster.h"
#include "demo/support/session_publisher.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "nodepool/cluster_model.h"
#include "nodepool/plan_report.h"
#include "policy/tier_policy.h"
#include "scaler/activation.h"
#include "scaler/trigger_spec.h"
#include "scaler/client/keda_client.h"
#include "scaler/scaled_object_file.h"

namespace ballast::demo {
namespace {

using nlohmann::json;

constexpr int kKafkaPartitions = 4;
// The instant the embedded snapshot was taken: its time rules (pod ages, delays) read from it.
constexpr const char* kSnapshotMoment = "2026-11-22T10:00:00Z";
constexpr const char* kUsage =
    "usage: ballast demo [--base-port N]\n"
    "  everything on 127.0.0.1 with embedded data: the scaler on 9090, session counters on 9091,\n"
    "  admin on 9102, the webhook on 8443; --base-port N uses N, N+1, N+2 and N+3 instead\n";

struct Ports {
  uint16_t grpc = 9090, sessions = 9091, admin = 9102, webhook = 8443;
};

Result<Ports> parse_demo_flags(const std::vector<std::string>& args) {
  Ports ports;
  if (args.empty()) return ports;
  std::string value;
  if (args.size() == 2 && args[0] == "--base-port") value = args[1];
  if (args.size() == 1 && args[0].rfind("--base-port=", 0) == 0) value = args[0].substr(12);
  if (value.empty()) return invalid_argument("unknown flags (the demo takes only --base-port N)");
  char* end = nullptr;
  const long base = std::strtol(value.c_str(), &end, 10);
  if (*end != '\0' || base < 1024 || base > 65532) {
    return invalid_argument("--base-port: a port from 1024 to 65532, not \"" + value + "\"");
  }
  const auto port = static_cast<uint16_t>(base);
  return Ports{port, static_cast<uint16_t>(port + 1), static_cast<uint16_t>(port + 2), static_cast<uint16_t>(port + 3)};
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

// A directory only this user can read, removed with its files when the demo ends: the
// webhook reads its certificate from files (it re-reads them on rotation).
class PrivateDir {
 public:
  PrivateDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ballast-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~PrivateDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;

  Result<std::string> write(const std::string& name, const std::string& text) const {
    if (path_.empty()) return io_error("cannot make a temporary directory");
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    ::chmod(file.c_str(), 0600);
    return file;
  }

 private:
  std::string path_;
};

// One row of the scaler table: an external trigger of examples/, its metadata pointed at
// what the demo runs (the embedded Kafka; no credentials profile).
struct DemoTrigger {
  scaler::ScaledObjectTrigger example;
  externalscaler::ScaledObjectRef ref;
  std::string source;
  bool has_backend = true;  // false for prometheus: the demo runs no Prometheus
};

Result<std::vector<DemoTrigger>> demo_triggers(const std::string& bootstrap_servers) {
  auto examples = scaler::read_scaled_object_triggers(embedded::kExampleScaledObjects);
  if (!examples) return Error{examples.error().code, "examples/: " + examples.error().message};
  std::vector<DemoTrigger> rows;
  for (auto& example : *examples) {
    DemoTrigger row;
    row.source = example.metadata.count("source") ? example.metadata.at("source") : "";
    example.metadata.erase("scalerAddress");
    example.metadata.erase("auth");
    if (row.source == "kafka") example.metadata["bootstrapServers"] = bootstrap_servers;
    row.has_backend = row.source != "prometheus";
    row.ref = scaler::scaled_object_ref(example.namespace_name, example.name, example.metadata);
    row.example = std::move(example);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string frame(const std::string& counter, const std::string& labels_json, int value) {
  return R"({"counter":")" + counter + R"(","labels":)" + labels_json + R"(,"value":)" + std::to_string(value) + "}";
}

// Load in waves with idle gaps, so activation edges show in the table: the signaling
// gateway publishes its live connections over a real WebSocket, and each Kafka consumer
// group falls behind while its topic is busy and catches up when it is idle.
void run_simulation(uint16_t sessions_port, const std::string& token, kafka::MockCluster& cluster,
                    const std::vector<DemoTrigger>& triggers, const std::atomic<bool>& stopping) {
  auto publisher = sessions::SessionPublisher::connect("127.0.0.1", sessions_port, token);
  if (!publisher) {
    std::cerr << "demo publisher: " << publisher.error().message << "\n";
    return;
  }
  struct Topic {
    std::string topic, group;
    std::vector<int64_t> produced = std::vector<int64_t>(kKafkaPartitions, 0);
  };
  std::vector<Topic> topics;
  for (const auto& trigger : triggers) {
    if (trigger.source != "kafka") continue;
    topics.push_back({trigger.example.metadata.at("topic"), trigger.example.metadata.at("consumerGroup")});
  }
  std::mt19937 random(42);
  for (int tick = 0; !stopping.load(); ++tick) {
    const int phase = tick % 60;  // half-second ticks: a 30 s cycle
    const int connections = phase < 10 ? 0 : static_cast<int>(420 * std::sin((phase - 10) * M_PI / 50.0) + 0.5);
    (void)(*publisher)->send(frame("active_connections", R"({"service":"signaling"})", connections));
    for (size_t t = 0; t < topics.size(); ++t) {
      auto& topic = topics[t];
      const bool busy = (tick + static_cast<int>(t) * 13) % 60 >= 20;  // each topic busy at its own time
      for (int32_t partition = 0; partition < kKafkaPartitions; ++partition) {
        if (busy) {
          const int burst = std::uniform_int_distribution<int>(0, 12)(random);
          if (burst > 0 && cluster.produce(topic.topic, partition, burst).ok()) topic.produced[partition] += burst;
        }
        const int64_t behind = busy ? std::uniform_int_distribution<int64_t>(0, 40)(random) : 0;
        (void)cluster.commit(topic.group, topic.topic, partition,
                             std::max<int64_t>(0, topic.produced[partition] - behind));
      }
    }
    for (int i = 0; i < 5 && !stopping.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*publisher)->close();
}

// One StreamIsActive per trigger with a backend, as KEDA opens for external-push triggers.
class PushWatcher {
 public:
  // `index`: the trigger's row, in the thread's name.
  PushWatcher(std::shared_ptr<grpc::Channel> channel, externalscaler::ScaledObjectRef ref, size_t index)
      : stub_(externalscaler::ExternalScaler::NewStub(channel)), ref_(std::move(ref)) {
    thread_ = std::thread([this, index] {
      name_this_thread("demo-push-" + std::to_string(index));
      run();
    });
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

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), value == std::floor(value) ? "%.0f" : "%.1f", value);
  return text;
}

std::string table_header() {
  char line[256];
  std::snprintf(line, sizeof(line), "%-30s %-10s %7s %7s %-10s %-6s %-12s %s\n", "SCALEDOBJECT", "SOURCE", "VALUE",
                "TARGET", "ACTIVATION", "ACTIVE", "REPLICAS", "LAST PUSH (StreamIsActive)");
  return line;
}

std::string table_row(const DemoTrigger& trigger, externalscaler::ExternalScaler::Stub& stub,
                      const PushWatcher* watcher) {
  const auto& example = trigger.example;
  const std::string object = example.namespace_name + "/" + example.name;
  char line[320];
  // Thresholds come from the trigger's own parser, as the scaler reads them.
  const auto spec = scaler::parse_trigger(example.metadata);
  if (!spec) {
    std::snprintf(line, sizeof(line), "%-30s %-10s %s\n", object.c_str(), trigger.source.c_str(),
                  spec.error().message.substr(0, 100).c_str());
    return line;
  }
  const std::string activation = "> " + format_number(spec->activation_threshold);
  // Prometheus rows never reach the scaler: asking it would start a source that polls a
  // Prometheus the demo does not run. The row says so rather than showing a made-up value.
  if (!trigger.has_backend) {
    std::snprintf(line, sizeof(line), "%-30s %-10s %7s %7s %-10s %-6s %-12s %s\n", object.c_str(),
                  trigger.source.c_str(), "-", format_number(spec->threshold).c_str(), activation.c_str(), "-", "-",
                  "no backend configured");
    return line;
  }
  const auto poll = scaler::keda_poll(stub, trigger.ref);
  if (!poll.spec_status.ok()) {
    std::snprintf(line, sizeof(line), "%-30s %-10s %s\n", object.c_str(), trigger.source.c_str(),
                  poll.spec_status.error_message().substr(0, 100).c_str());
    return line;
  }
  if (!poll.metrics_status.ok() || !poll.active_status.ok()) {
    const auto& failed = poll.metrics_status.ok() ? poll.active_status : poll.metrics_status;
    std::snprintf(line, sizeof(line), "%-30s %-10s %7s %7s %-10s %-6s %-12s %s\n", object.c_str(),
                  trigger.source.c_str(), "-", format_number(poll.target).c_str(), activation.c_str(), "-", "-",
                  (scaler::status_code_name(failed.error_code()) + ": " + failed.error_message()).substr(0, 80).c_str());
    return line;
  }
  const auto replicas =
      scaler::expected_replicas(poll.value, poll.target, poll.active, example.min_replicas, example.max_replicas);
  const std::string bounds = std::to_string(replicas) + " [" + std::to_string(example.min_replicas) + ".." +
                             std::to_string(example.max_replicas) + "]";
  std::snprintf(line, sizeof(line), "%-30s %-10s %7s %7s %-10s %-6s %-12s %s\n", object.c_str(),
                trigger.source.c_str(), format_number(poll.value).c_str(), format_number(poll.target).c_str(),
                activation.c_str(), poll.active ? "yes" : "no", bounds.c_str(),
                watcher ? watcher->last_event().c_str() : "-");
  return line;
}

// The tiers of the built-in policy applied to one sample Deployment, through the real
// webhook over HTTPS: what `kubectl apply` of that Deployment would get. It lives in
// `monitoring`, a namespace the built-in policy allows the infra tier's restricted class.
json sample_review(const std::string& tier) {
  const json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "web"}, {"namespace", "monitoring"}, {"labels", {{"ballast.dev/tier", tier}}}}},
      {"spec",
       {{"replicas", 3},
        {"selector", {{"matchLabels", {{"app", "web"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", json::array({{{"name", "web"}, {"image", "nginx:1.27"}}})}}}}}}}};
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "demo-" + tier},
            {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
            {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
            {"namespace", "monitoring"},
            {"operation", "CREATE"},
            {"userInfo", {{"username", "demo"}}},
            {"object", deployment}}}};
}

std::string webhook_section(uint16_t webhook_port, const std::string& certificate_file) {
  std::ostringstream out;
  const std::string url = "https://127.0.0.1:" + std::to_string(webhook_port) + "/mutate";
  out << "Admission webhook (" << url << ", self-signed certificate made at start-up): the JSONPatch a\n"
      << "Deployment in namespace monitoring labelled ballast.dev/tier=<tier> gets, one tier at a time\n";
  net::IoPool pool(1);
  pool.start();
  net::HttpClient client(pool);
  for (const auto& [tier, unused] : policy::default_policy().tiers) {
    net::HttpClientRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = sample_review(tier).dump();
    request.tls.ca_file = certificate_file;
    auto response = client.request_sync(std::move(request));
    out << "  " << tier << "\n";
    if (!response || response->status != 200) {
      out << "    webhook failed: " << (response ? "HTTP " + std::to_string(response->status) : response.error().message)
          << "\n";
      continue;
    }
    const auto answer = json::parse(response->body, nullptr, false);
    const auto patch_text = base64_decode(answer.value("/response/patch"_json_pointer, std::string()));
    const auto patch = patch_text ? json::parse(*patch_text, nullptr, false) : json();
    if (!patch.is_array() || patch.empty()) {
      out << "    (no change)\n";
      continue;
    }
    for (const auto& op : patch) {
      std::string value = op.contains("value") ? op["value"].dump() : "";
      if (value.size() > 72) value = value.substr(0, 69) + "...";
      out << "    " << op.value("op", "") << " " << op.value("path", "") << " " << value << "\n";
    }
  }
  pool.stop();
  return out.str();
}

std::string planner_section() {
  std::ostringstream out;
  out << "Node-pool planner on a compiled-in cluster snapshot (tests/fixtures/plan/small_cluster.json, at "
      << kSnapshotMoment << ");\n`ballast plan --snapshot FILE` runs it on yours (kubectl get ... -o json)\n";
  auto cluster = nodepool::parse_snapshot_text(embedded::kPlanSnapshot);
  auto now = parse_time(kSnapshotMoment);
  if (!cluster || !now) {
    out << "  snapshot unreadable: " << (cluster ? now.error().message : cluster.error().message) << "\n";
    return out.str();
  }
  std::istringstream table(nodepool::plan_to_table(nodepool::make_plan(*cluster, *now), *cluster));
  for (std::string line; std::getline(table, line);) out << (line.empty() ? "" : "  ") << line << "\n";
  return out.str();
}

// Each line cut to the terminal's width: a wrapped line would take two rows, and the
// in-place redraw moves the cursor up by lines.
std::string clip_lines(const std::string& text, size_t width) {
  std::string clipped;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) clipped += line.substr(0, width) + "\n";
  return clipped;
}

size_t terminal_width() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 80;
  return size.ws_col;
}

std::string executable_path() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "ballast" : path.string();
}

std::string banner(const Ports& ports, const std::string& token, const std::string& bootstrap_servers) {
  std::ostringstream out;
  const auto grpc = "127.0.0.1:" + std::to_string(ports.grpc);
  out << "ballast demo: every component on 127.0.0.1, with embedded data\n"
      << "  scaler (KEDA ExternalScaler, gRPC)  " << grpc << "\n"
      << "  session counters (WebSocket)        ws://127.0.0.1:" << ports.sessions << "/v1/sessions  token "
      << token << "\n"
      << "  admission webhook (HTTPS)           https://127.0.0.1:" << ports.webhook << "/mutate and /validate\n"
      << "  metrics, health                     http://127.0.0.1:" << ports.admin << "/metrics\n"
      << "  embedded Kafka (librdkafka mock)    " << bootstrap_servers << "\n"
      << "  PDB guard and node-pool reconciler  need a cluster (ballast serve --kubeconfig); the planner runs below\n\n";
  return out.str();
}

std::string try_it(const Ports& ports) {
  const std::string self = executable_path();
  std::ostringstream out;
  out << "Try it from another terminal:\n"
      << "  " << self << " probe --scaler 127.0.0.1:" << ports.grpc
      << " --metadata source=sessions --metadata counter=active_connections \\\n"
      << "      --metadata selector=service=signaling --metadata threshold=200 --watch\n"
      << "  curl -s http://127.0.0.1:" << ports.admin << "/metrics | grep ballast_\n"
      << "Ctrl-C stops the demo.\n\n"
      << "Scaler: the ScaledObjects of examples/ (compiled in; Kafka triggers point at the embedded cluster),\n"
      << "polled as KEDA polls them\n";
  return out.str();
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  auto ports = parse_demo_flags(args);
  if (!ports) {
    std::cerr << "ballast demo: " << ports.error().message << "\n" << kUsage;
    return 2;
  }
  set_log_level(LogLevel::kWarn);
  app::block_termination_signals();

  auto certificate = make_self_signed_certificate();
  PrivateDir secrets;
  auto certificate_file = certificate ? secrets.write("tls.crt", certificate->certificate) : certificate.error();
  auto key_file = certificate ? secrets.write("tls.key", certificate->private_key) : certificate.error();
  if (!certificate_file || !key_file) {
    std::cerr << "ballast demo: webhook certificate: "
              << (certificate_file ? key_file.error().message : certificate_file.error().message) << "\n";
    return 1;
  }
  Config config = default_config();
  // Named explicitly: the guard and the node pool need a cluster, which the demo has not.
  config.components = {kComponentScaler, kComponentSessions, kComponentAdmission};
  config.scaler.grpc_address = "127.0.0.1:" + std::to_string(ports->grpc);
  config.sessions.address = "127.0.0.1:" + std::to_string(ports->sessions);
  config.admin.address = "127.0.0.1:" + std::to_string(ports->admin);
  config.webhook = {"127.0.0.1:" + std::to_string(ports->webhook), *certificate_file, *key_file};
  const std::string token = random_token();
  app::Application app(config, {token});
  if (auto started = app.start(); !started) {
    std::cerr << "ballast demo: " << started.error().message << " (is another ballast running? the demo uses ports "
              << ports->grpc << ", " << ports->sessions << ", " << ports->admin << " and " << ports->webhook
              << "; --base-port picks others)\n";
    app.stop();
    return 1;
  }

  auto cluster = kafka::MockCluster::start(1);
  auto triggers = cluster ? demo_triggers((*cluster)->bootstrap_servers()) : cluster.error();
  if (triggers) {
    for (const auto& trigger : *triggers) {
      if (trigger.source != "kafka") continue;
      if (auto topic = (*cluster)->create_topic(trigger.example.metadata.at("topic"), kKafkaPartitions); !topic) {
        triggers = topic.error();
        break;
      }
    }
  }
  if (!triggers) {
    std::cerr << "ballast demo: " << triggers.error().message << "\n";
    app.stop();
    return 1;
  }

  std::cout << banner(*ports, token, (*cluster)->bootstrap_servers())
            << webhook_section(ports->webhook, *certificate_file) << "\n"
            << planner_section() << "\n"
            << try_it(*ports) << std::flush;

  std::atomic<bool> stopping{false};
  std::thread simulation([&] {
    name_this_thread("demo-sim");
    run_simulation(ports->sessions, token, **cluster, *triggers, stopping);
  });
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(ports->grpc), grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  std::vector<std::unique_ptr<PushWatcher>> watchers;
  for (size_t i = 0; i < triggers->size(); ++i) {
    const auto& trigger = (*triggers)[i];
    watchers.push_back(trigger.has_backend ? std::make_unique<PushWatcher>(channel, trigger.ref, i) : nullptr);
  }

  // On a terminal the table is redrawn in place below the sections above; into a pipe or
  // file, each refresh is appended.
  const bool interactive = isatty(STDOUT_FILENO) != 0;
  size_t drawn_lines = 0;
  do {
    std::string table = table_header();
    for (size_t i = 0; i < triggers->size(); ++i) table += table_row((*triggers)[i], *stub, watchers[i].get());
    if (interactive) {
      if (drawn_lines > 0) std::cout << "\033[" << drawn_lines << "A\033[J";
      table = clip_lines(table, terminal_width() - 1);
    }
    std::cout << table << (interactive ? "" : "\n") << std::flush;
    drawn_lines = triggers->size() + 1;
  } while (!app::wait_for_termination_signal(std::chrono::seconds(1)));
  stopping = true;
  simulation.join();
  app.stop();  // finishes the StreamIsActive streams with OK, so the watchers end
  watchers.clear();
  return 0;
}

}  // namespace ballast::demo
