// Publish on replica A → StreamIsActive edge on replica B: starts two `ballast serve`
// replicas on loopback that share sessions (static peers), holds a StreamIsActive stream on
// B and times, per round, a publisher frame on A until B's stream reports the edge
// (inactive→active, then active→inactive: both are timed).
// With --publishers N: three replicas instead, N publishers spread over them, each changing
// its value once a second for --seconds S; reports peer bytes/s (ballast's own counters) and
// CPU (utime + stime from /proc) per replica.
// Usage: peers_bench [--rounds N] | --publishers N [--seconds S]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "fakes/serve_process.h"
#include "publisher_traffic.h"

namespace {

using Clock = std::chrono::steady_clock;
using ballast::testing::free_port;

struct Ports {
  uint16_t grpc = free_port(), sessions = free_port(), admin = free_port();
};

void start_replica(ballast::testing::ChildProcess& child, const Ports& p, const std::string& tokens,
                   const std::string& peers) {
  child.start(BALLAST_BINARY, {"serve", "--components", "scaler,sessions",
                               "--grpc-address=127.0.0.1:" + std::to_string(p.grpc),
                               "--sessions-address=127.0.0.1:" + std::to_string(p.sessions),
                               "--admin-address=127.0.0.1:" + std::to_string(p.admin), "--sessions-token-file",
                               tokens, "--peers", peers, "--log-level", "error"});
}

// A counter's value in a replica's /metrics.
double metric(uint16_t admin, const std::string& name) {
  const auto text = ballast::testing::http_get(admin, "/metrics");
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size() + 2));
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int traffic(int publishers, int seconds, const std::string& tokens) {
  Ports ports[3];
  std::string peers;
  for (const auto& p : ports) peers += (peers.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(p.sessions));
  ballast::testing::ChildProcess replicas[3];
  for (int i = 0; i < 3; ++i) start_replica(replicas[i], ports[i], tokens, peers);
  for (const auto& p : ports) {
    if (!ballast::testing::becomes_ready(p.admin, std::chrono::seconds(15))) return 1;
  }
  // Every SessionPublisher owns an io_context (a few descriptors each), so the publishers
  // are spread over one child process per replica to stay under the descriptor limit.
  int ready_pipe[2], go_pipe[2];
  if (pipe(ready_pipe) != 0 || pipe(go_pipe) != 0) return 1;
  std::vector<pid_t> children;
  for (int k = 0; k < 3; ++k) {
    const pid_t child = fork();
    if (child == 0) {
      auto open = ballast::bench::connect_publishers("127.0.0.1", ports[k].sessions, "bench-token", k, 3, publishers);
      if (open.size() != static_cast<size_t>((publishers - k + 2) / 3)) _exit(1);
      char byte = 1;
      if (write(ready_pipe[1], &byte, 1) != 1 || read(go_pipe[0], &byte, 1) != 1) _exit(1);
      if (ballast::bench::publish_changing_counts(open, seconds) != 0) _exit(1);
      for (auto& publisher : open) publisher->close();
      _exit(0);
    }
    children.push_back(child);
  }
  for (int k = 0; k < 3; ++k) {
    char byte = 0;
    if (read(ready_pipe[0], &byte, 1) != 1) return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the connects' own peer traffic settles
  double sent[3], received[3], cpu[3];
  for (int i = 0; i < 3; ++i) {
    sent[i] = metric(ports[i].admin, "ballast_peer_sent_bytes_total");
    received[i] = metric(ports[i].admin, "ballast_peer_received_bytes_total");
    cpu[i] = cpu_seconds(replicas[i].pid());
  }
  const auto start = Clock::now();
  const char go[3] = {1, 1, 1};
  if (write(go_pipe[1], go, 3) != 3) return 1;
  int failed = 0;
  for (const pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    failed += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }
  const long frames = failed == 0 ? static_cast<long>(publishers) * seconds : -1;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%d publishers over 3 replicas, %ld frames in %.1f s (%.0f frames/s)\n", publishers, frames, elapsed,
              static_cast<double>(frames) / elapsed);
  for (int i = 0; i < 3; ++i) {
    std::printf("replica %d: peer bytes sent %.0f B/s, received %.0f B/s, CPU %.1f %%\n", i,
                (metric(ports[i].admin, "ballast_peer_sent_bytes_total") - sent[i]) / elapsed,
                (metric(ports[i].admin, "ballast_peer_received_bytes_total") - received[i]) / elapsed,
                100 * (cpu_seconds(replicas[i].pid()) - cpu[i]) / elapsed);
  }
  for (auto& replica : replicas) replica.signal(SIGTERM);
  for (auto& replica : replicas) replica.wait();
  return failed == 0 ? 0 : 1;
}

double percentile(std::vector<double> samples, double p) {
  const auto rank = std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(rank), samples.end());
  return samples[rank];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 500, publishers = 0, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rounds") rounds = std::stoi(argv[i + 1]);
    if (flag == "--publishers") publishers = std::stoi(argv[i + 1]);
    if (flag == "--seconds") seconds = std::stoi(argv[i + 1]);
  }
  const auto dir = std::filesystem::temp_directory_path() / ("peers-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string tokens = (dir / "tokens").string();
  std::ofstream(tokens) << "bench-token\n";
  if (publishers > 0) {
    const int status = traffic(publishers, seconds, tokens);
    std::filesystem::remove_all(dir);
    return status;
  }

  Ports a, b;
  const std::string peers =
      "127.0.0.1:" + std::to_string(a.sessions) + ",127.0.0.1:" + std::to_string(b.sessions);
  ballast::testing::ChildProcess replicas[2];
  start_replica(replicas[0], a, tokens, peers);
  start_replica(replicas[1], b, tokens, peers);
  if (!ballast::testing::becomes_ready(a.admin, std::chrono::seconds(15)) ||
      !ballast::testing::becomes_ready(b.admin, std::chrono::seconds(15))) {
    std::fprintf(stderr, "replicas did not become ready\n");
    return 1;
  }

  auto stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(b.grpc), grpc::InsecureChannelCredentials()));
  externalscaler::ScaledObjectRef ref;
  ref.set_name("bench");
  (*ref.mutable_scalermetadata())["source"] = "sessions";
  (*ref.mutable_scalermetadata())["counter"] = "edge";
  (*ref.mutable_scalermetadata())["threshold"] = "1";
  grpc::ClientContext context;
  auto stream = stub->StreamIsActive(&context, ref);
  externalscaler::IsActiveResponse event;
  if (!stream->Read(&event)) return 1;

  auto publisher = ballast::sessions::SessionPublisher::connect("127.0.0.1", a.sessions, "bench-token");
  if (!publisher.ok()) return 1;
  std::vector<double> millis;
  for (int i = 0; i < rounds; ++i) {
    const bool on = i % 2 == 0;
    const auto start = Clock::now();
    if (!(*publisher)->send(std::string(R"({"counter":"edge","value":)") + (on ? "1" : "0") + "}").ok()) return 1;
    do {
      if (!stream->Read(&event)) return 1;
    } while (event.result() != on);
    millis.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("publish on A -> StreamIsActive edge on B: n=%zu p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
              millis.size(), percentile(millis, 0.50), percentile(millis, 0.95), percentile(millis, 0.99),
              *std::max_element(millis.begin(), millis.end()));
  context.TryCancel();
  (*publisher)->close();
  for (auto& replica : replicas) replica.signal(SIGTERM);
  for (auto& replica : replicas) replica.wait();
  std::filesystem::remove_all(dir);
  return 0;
}
