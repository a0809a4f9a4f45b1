// Load driver for a running `ballast serve` (see run_scaler_bench.sh):
//   getmetrics: N publishers feed S distinct ScaledObjects, then C client threads call
//               GetMetrics in a closed loop for D seconds; prints p50/p99 and RPC/s.
//   edge:       time from a publish that crosses activation to the StreamIsActive event.
//               With --rate R the threads together call R times a second (paced; 0 = as
//               fast as the answers come back).
//   sparse:     one GetMetrics every --interval-ms (KEDA's cadence: a call every few
//               seconds per ScaledObject, the server idle in between); prints p50/p99/max.
//   publishers: --publishers N session publishers (over --processes P child processes, for
//               the descriptor limit) change their counts once a second for --seconds;
//               prints connections refused and frames failed (bench/soak.sh).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "externalscaler.grpc.pb.h"
#include "publisher_traffic.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "getmetrics";
  std::string grpc = "127.0.0.1:9090";
  std::string sessions_host = "127.0.0.1";
  uint16_t sessions_port = 9091;
  std::string token;
  int scaled_objects = 200;
  int threads = 4;
  int seconds = 10;
  int edges = 200;
  int interval_ms = 1500;
  int calls = 40;
  int rate = 0;
  int publishers = 5000;
  int processes = 4;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--mode") options.mode = value;
    else if (key == "--grpc") options.grpc = value;
    else if (key == "--sessions-port") options.sessions_port = static_cast<uint16_t>(std::stoi(value));
    else if (key == "--token") options.token = value;
    else if (key == "--scaledobjects") options.scaled_objects = std::stoi(value);
    else if (key == "--threads") options.threads = std::stoi(value);
    else if (key == "--seconds") options.seconds = std::stoi(value);
    else if (key == "--edges") options.edges = std::stoi(value);
    else if (key == "--interval-ms") options.interval_ms = std::stoi(value);
    else if (key == "--calls") options.calls = std::stoi(value);
    else if (key == "--rate") options.rate = std::stoi(value);
    else if (key == "--publishers") options.publishers = std::stoi(value);
    else if (key == "--processes") options.processes = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  return options;
}

externalscaler::ScaledObjectRef scaled_object(int index, const std::string& activation = "0") {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("worker-" + std::to_string(index));
  ref.set_namespace_("bench");
  auto& metadata = *ref.mutable_scalermetadata();
  metadata["scalerAddress"] = "ballast:9090";
  metadata["source"] = "sessions";
  metadata["counter"] = "sessions_" + std::to_string(index);
  metadata["selector"] = "service=bench";
  metadata["threshold"] = "10";
  metadata["activationThreshold"] = activation;
  return ref;
}

std::string frame(int index, int value) {
  return R"({"counter":"sessions_)" + std::to_string(index) + R"(","labels":{"service":"bench"},"value":)" +
         std::to_string(value) + "}";
}

double percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0;
  const auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(samples.size() - 1));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(rank), samples.end());
  return samples[rank];
}

std::unique_ptr<ballast::sessions::SessionPublisher> publisher(const Options& options) {
  auto connected = ballast::sessions::SessionPublisher::connect(options.sessions_host, options.sessions_port,
                                                                options.token);
  if (!connected) {
    std::fprintf(stderr, "publisher: %s\n", connected.error().message.c_str());
    std::exit(1);
  }
  return std::move(*connected);
}

int run_getmetrics(const Options& options) {
  auto feed = publisher(options);
  for (int i = 0; i < options.scaled_objects; ++i) (void)feed->send(frame(i, i % 50));

  auto channel = grpc::CreateChannel(options.grpc, grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  std::vector<externalscaler::GetMetricsRequest> requests;
  for (int i = 0; i < options.scaled_objects; ++i) {
    externalscaler::GetMetricsRequest request;
    *request.mutable_scaledobjectref() = scaled_object(i);
    grpc::ClientContext context;
    externalscaler::GetMetricSpecResponse spec;
    if (!stub->GetMetricSpec(&context, request.scaledobjectref(), &spec).ok()) return 1;
    request.set_metricname(spec.metricspecs(0).metricname());
    requests.push_back(request);
  }
  // Warm-up: every source key tracked, the connection's streams established.
  for (const auto& request : requests) {
    grpc::ClientContext context;
    externalscaler::GetMetricsResponse response;
    (void)stub->GetMetrics(&context, request, &response);
  }

  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(options.threads));
  std::vector<std::thread> workers;
  const auto started = Clock::now();
  for (int t = 0; t < options.threads; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = latencies[static_cast<size_t>(t)];
      mine.reserve(1 << 20);
      size_t next = static_cast<size_t>(t);
      // Paced: this thread's share of --rate, on a schedule that forgets a backlog older than
      // a second rather than bursting to catch up.
      const auto interval = options.rate > 0 ? std::chrono::nanoseconds(1'000'000'000LL * options.threads / options.rate)
                                             : std::chrono::nanoseconds(0);
      auto due = Clock::now();
      while (!stop.load(std::memory_order_relaxed)) {
        if (options.rate > 0) {
          due += interval;
          const auto now = Clock::now();
          if (due > now) std::this_thread::sleep_until(due);
          else if (now - due > std::chrono::seconds(1)) due = now;
        }
        const auto& request = requests[next++ % requests.size()];
        grpc::ClientContext context;
        externalscaler::GetMetricsResponse response;
        const auto begin = Clock::now();
        const auto status = stub->GetMetrics(&context, request, &response);
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
        if (!status.ok()) errors.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  stop = true;
  for (auto& worker : workers) worker.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  std::vector<double> all;
  for (auto& samples : latencies) all.insert(all.end(), samples.begin(), samples.end());
  const size_t calls = all.size();
  std::printf("getmetrics: scaledobjects=%d threads=%d calls=%zu errors=%ld rps=%.0f p50_us=%.1f p99_us=%.1f\n",
              options.scaled_objects, options.threads, calls, errors.load(), static_cast<double>(calls) / elapsed,
              percentile(all, 50), percentile(all, 99));
  return errors.load() == 0 ? 0 : 1;
}

int run_publishers(const Options& options) {
  int result_pipe[2], go_pipe[2];
  if (pipe(result_pipe) != 0 || pipe(go_pipe) != 0) return 1;
  std::vector<pid_t> children;
  for (int k = 0; k < options.processes; ++k) {
    const pid_t child = fork();
    if (child == 0) {
      auto open = ballast::bench::connect_publishers(options.sessions_host, options.sessions_port, options.token, k,
                                                     options.processes, options.publishers);
      // Two reports per child on one pipe: how many connected, then (after "go") failed frames.
      const long connected = static_cast<long>(open.size());
      if (write(result_pipe[1], &connected, sizeof connected) != sizeof connected) _exit(1);
      char go = 0;
      if (read(go_pipe[0], &go, 1) != 1) _exit(1);
      const long failed = ballast::bench::publish_changing_counts(open, options.seconds);
      for (auto& publisher : open) publisher->close();
      _exit(write(result_pipe[1], &failed, sizeof failed) == sizeof failed ? 0 : 1);
    }
    children.push_back(child);
  }
  long connected = 0;
  for (int k = 0; k < options.processes; ++k) {
    long count = 0;
    if (read(result_pipe[0], &count, sizeof count) != sizeof count) return 1;
    connected += count;
  }
  std::printf("publishers: connected=%ld of %d\n", connected, options.publishers);
  std::fflush(stdout);
  const std::vector<char> go(static_cast<size_t>(options.processes), 1);
  if (write(go_pipe[1], go.data(), go.size()) != static_cast<ssize_t>(go.size())) return 1;
  const auto started = Clock::now();
  long failed = 0;
  for (int k = 0; k < options.processes; ++k) {
    long count = 0;
    if (read(result_pipe[0], &count, sizeof count) != sizeof count) return 1;
    failed += count;
  }
  for (const pid_t child : children) waitpid(child, nullptr, 0);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const long frames = connected * options.seconds;
  std::printf("publishers: connected=%ld refused=%ld frames=%ld failed=%ld seconds=%.1f frames_per_s=%.0f\n", connected,
              options.publishers - connected, frames, failed, elapsed, static_cast<double>(frames) / elapsed);
  return connected == options.publishers && failed == 0 ? 0 : 1;
}

int run_sparse(const Options& options) {
  auto feed = publisher(options);
  (void)feed->send(frame(0, 7));
  auto channel = grpc::CreateChannel(options.grpc, grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = scaled_object(0);
  request.set_metricname("s0-sessions");
  std::vector<double> latencies;
  long errors = 0;
  for (int i = 0; i <= options.calls; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
    grpc::ClientContext context;
    externalscaler::GetMetricsResponse response;
    const auto begin = Clock::now();
    const auto status = stub->GetMetrics(&context, request, &response);
    const double micros = std::chrono::duration<double, std::micro>(Clock::now() - begin).count();
    if (!status.ok()) ++errors;
    if (i > 0) latencies.push_back(micros);  // the first call also connects
  }
  const double max = *std::max_element(latencies.begin(), latencies.end());
  std::printf("sparse: interval_ms=%d calls=%zu errors=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f\n", options.interval_ms,
              latencies.size(), errors, percentile(latencies, 50), percentile(latencies, 99), max);
  return errors == 0 ? 0 : 1;
}

int run_edge(const Options& options) {
  auto feed = publisher(options);
  auto channel = grpc::CreateChannel(options.grpc, grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const int index = 100000;  // a counter of its own
  (void)feed->send(frame(index, 0));
  grpc::ClientContext context;
  auto stream = stub->StreamIsActive(&context, scaled_object(index));
  externalscaler::IsActiveResponse event;
  if (!stream->Read(&event) || event.result()) return 1;  // the current state: inactive
  std::vector<double> latencies;
  for (int i = 0; i < options.edges; ++i) {
    const auto begin = Clock::now();
    (void)feed->send(frame(index, 1));
    if (!stream->Read(&event) || !event.result()) return 1;
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
    (void)feed->send(frame(index, 0));
    if (!stream->Read(&event) || event.result()) return 1;
  }
  std::printf("edge: events=%zu p50_ms=%.3f p95_ms=%.3f max_ms=%.3f\n", latencies.size(), percentile(latencies, 50),
              percentile(latencies, 95), *std::max_element(latencies.begin(), latencies.end()));
  context.TryCancel();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  if (options.mode == "getmetrics") return run_getmetrics(options);
  if (options.mode == "edge") return run_edge(options);
  if (options.mode == "sparse") return run_sparse(options);
  if (options.mode == "publishers") return run_publishers(options);
  std::fprintf(stderr, "--mode getmetrics|edge|sparse|publishers\n");
  return 2;
}
