// The apiserver side of bench/soak.sh on the real control plane (SOAK_APISERVER=real): fills a
// real kube-apiserver with --nodes Ready nodes and --pods Running pods bound to them, prints
// "ready", then writes the soak's churn (bench/soak_cluster.h) for --seconds: a replacement is
// a DELETE with gracePeriodSeconds=0 (there is no kubelet to confirm), a POST of the next
// generation and its pods/status (Running, Ready) as a kubelet would report it; a readiness
// flip is a pods/status patch, a heartbeat a nodes/status patch. The writers are --clients
// KubeClients (keep-alive HTTPS, each pooling up to 4 connections) with 4 threads each, taking
// the changes in order; none is skipped (a skipped replacement would leave a hole that later
// changes of that pod trip over), so when the apiserver takes less than was asked the queue
// grows: each line (every 10 s) gives the rates taken, the backlog and how late the last
// change began. Totals at the end (or on SIGTERM/SIGINT).
// Usage: soak_churn --kubeconfig PATH [--nodes N] [--pods P] [--churn C] [--seconds S] [--clients K]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/log.h"
#include "core/thread_name.h"
#include "core/timestamp.h"
#include "kube/kube_client.h"
#include "kube/kube_config.h"
#include "net/io_pool.h"
#include "soak_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using ballast::bench::SoakChange;
using ballast::bench::soak_node;
using ballast::bench::soak_pod;
using SteadyClock = std::chrono::steady_clock;

namespace {

volatile std::sig_atomic_t stopping = 0;
constexpr int kThreadsPerClient = 4;  // HttpClient keeps 4 idle connections per peer

const char* kind_name(SoakChange::Kind kind) {
  switch (kind) {
    case SoakChange::Kind::kReplace: return "replace";
    case SoakChange::Kind::kFlip: return "flip";
    case SoakChange::Kind::kHeartbeat: return "heartbeat";
  }
  return "?";
}

const char* code_name(ballast::ErrorCode code) {
  switch (code) {
    case ballast::ErrorCode::kInvalidArgument: return "invalid";
    case ballast::ErrorCode::kUnavailable: return "unavailable";
    case ballast::ErrorCode::kNotFound: return "not-found";
    case ballast::ErrorCode::kAlreadyExists: return "already-exists";
    case ballast::ErrorCode::kConflict: return "conflict";
    case ballast::ErrorCode::kExpired: return "expired";
    case ballast::ErrorCode::kTooManyRequests: return "throttled";
    case ballast::ErrorCode::kIo: return "io";
    case ballast::ErrorCode::kInternal: return "internal";
  }
  return "?";
}

// Completed changes per kind, their latencies and the errors, from every writer.
class Tally {
 public:
  void done(SoakChange::Kind kind, SteadyClock::duration took) {
    std::lock_guard lock(mutex_);
    auto& kind_tally = kinds_[kind];
    ++kind_tally.count;
    kind_tally.millis.push_back(std::chrono::duration<double, std::milli>(took).count());
  }
  void failed(SoakChange::Kind kind, const ballast::Error& error) {
    std::lock_guard lock(mutex_);
    const std::string key = std::string(kind_name(kind)) + ":" + code_name(error.code);
    if (errors_[key]++ == 0) std::fprintf(stderr, "first %s error: %s\n", key.c_str(), error.message.c_str());
  }

  long count(SoakChange::Kind kind) {
    std::lock_guard lock(mutex_);
    return kinds_[kind].count;
  }
  long errors() {
    std::lock_guard lock(mutex_);
    long total = 0;
    for (const auto& [key, count] : errors_) total += count;
    return total;
  }

  // "replace 123 (p50 4.1 ms, p99 20.3 ms)" for each kind, then the errors by kind and code.
  std::string summary(double seconds) {
    std::lock_guard lock(mutex_);
    std::string text;
    char line[200];
    for (auto& [kind, kind_tally] : kinds_) {
      auto& millis = kind_tally.millis;
      std::sort(millis.begin(), millis.end());
      const auto at = [&](double q) { return millis.empty() ? 0.0 : millis[static_cast<size_t>(q * (millis.size() - 1))]; };
      std::snprintf(line, sizeof line, "%s %ld = %.1f/s (p50 %.1f ms, p99 %.1f ms); ", kind_name(kind), kind_tally.count,
                    kind_tally.count / seconds, at(0.5), at(0.99));
      text += line;
    }
    text += "errors";
    if (errors_.empty()) text += " 0";
    for (const auto& [key, count] : errors_) text += " " + key + "=" + std::to_string(count);
    return text;
  }

 private:
  struct KindTally {
    long count = 0;
    std::vector<double> millis;
  };
  std::mutex mutex_;
  std::map<SoakChange::Kind, KindTally> kinds_;
  std::map<std::string, long> errors_;
};

// The pod's status as its kubelet would report it.
ballast::Status write_pod_status(ballast::kube::KubeApi& api, const json& pod) {
  auto patched = api.patch(ballast::kube::pods(), pod["metadata"]["namespace"].get<std::string>(),
                           pod["metadata"]["name"].get<std::string>() + "/status",
                           ballast::kube::PatchType::kStrategicMerge, {{"status", pod["status"]}});
  if (!patched) return patched.error();
  return ballast::Ok{};
}

// POST the pod, then its status: the apiserver starts every pod Pending whatever it was sent.
ballast::Status create_running(ballast::kube::KubeApi& api, const json& pod) {
  auto created = api.create(ballast::kube::pods(), pod["metadata"]["namespace"].get<std::string>(), pod);
  if (!created) return created.error();
  return write_pod_status(api, pod);
}

// The writers: every client's threads take the changes the schedule queued, in order.
class Writers {
 public:
  Writers(std::vector<std::unique_ptr<ballast::kube::KubeClient>>& clients, int nodes, Tally& tally)
      : nodes_(nodes), tally_(tally) {
    for (size_t t = 0; t < clients.size() * kThreadsPerClient; ++t) {
      threads_.emplace_back([this, &api = *clients[t / kThreadsPerClient], t] {
        ballast::name_this_thread("writer-" + std::to_string(t));
        work(api);
      });
    }
  }
  ~Writers() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

  size_t backlog() {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  // How long after its slot the latest change began.
  long late_ms() const { return late_ms_; }

  void push(const SoakChange& change, SteadyClock::time_point due) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({change, due});
    }
    wake_.notify_one();
  }

 private:
  struct Queued {
    SoakChange change;
    SteadyClock::time_point due;
  };

  void work(ballast::kube::KubeApi& api) {
    while (true) {
      Queued next;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (closing_) return;
        next = queue_.front();
        queue_.pop_front();
      }
      const auto began = SteadyClock::now();
      late_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(began - next.due).count();
      if (auto status = apply(api, next.change); status) {
        tally_.done(next.change.kind, SteadyClock::now() - began);
      } else {
        tally_.failed(next.change.kind, status.error());
      }
    }
  }

  ballast::Status apply(ballast::kube::KubeApi& api, const SoakChange& change) const {
    namespace kube = ballast::kube;
    if (change.kind == SoakChange::Kind::kHeartbeat) {
      const std::string now = ballast::format_time(std::chrono::system_clock::now());
      const json status = {{"conditions", json::array({{{"type", "Ready"},
                                                        {"status", "True"},
                                                        {"reason", "KubeletReady"},
                                                        {"lastHeartbeatTime", now}}})}};
      auto patched = api.patch(kube::nodes(), "", ballast::bench::soak_node_name(change.index) + "/status",
                               kube::PatchType::kStrategicMerge, {{"status", status}});
      if (!patched) return patched.error();
      return ballast::Ok{};
    }
    const json pod = soak_pod(change.generation, change.index, nodes_, change.ready);
    if (change.kind == SoakChange::Kind::kFlip) return write_pod_status(api, pod);
    kube::DeleteOptions now;
    now.grace_period_seconds = 0;
    const json old = soak_pod(change.generation - 1, change.index, nodes_, change.ready);
    if (auto removed = api.remove(kube::pods(), old["metadata"]["namespace"].get<std::string>(),
                                  old["metadata"]["name"].get<std::string>(), now);
        !removed) {
      return removed;
    }
    return create_running(api, pod);
  }

  const int nodes_;
  Tally& tally_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  bool closing_ = false;
  std::atomic<long> late_ms_{0};
  std::vector<std::thread> threads_;
};

// Runs fill(i) for i in [0, count) on `threads` threads; false and the first error on failure.
bool fill_parallel(int count, size_t threads, const std::function<ballast::Status(size_t thread, int index)>& fill,
                   const char* what) {
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = next++; i < count && failures == 0 && !stopping; i = next++) {
        if (auto filled = fill(t, i); !filled && filled.error().code != ballast::ErrorCode::kAlreadyExists) {
          if (failures++ == 0) std::fprintf(stderr, "soak_churn: %s %d: %s\n", what, i, filled.error().message.c_str());
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  return failures == 0 && !stopping;
}

}  // namespace

int main(int argc, char** argv) {
  ballast::bench::SoakOptions soak;
  if (!ballast::bench::parse_soak_options(argc, argv, true, soak)) {
    std::fprintf(stderr, "usage: soak_churn --kubeconfig PATH [--nodes N] [--pods P] [--churn C] [--seconds S] "
                         "[--clients K]\n");
    return 2;
  }
  const int nodes = soak.nodes, pods = soak.pods, churn = soak.churn, seconds = soak.seconds;
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  ballast::set_log_level(ballast::LogLevel::kWarn);

  ballast::net::IoPool io(2);
  io.start();
  std::vector<std::unique_ptr<ballast::kube::KubeClient>> clients;
  for (int c = 0; c < soak.clients; ++c) {
    auto config = ballast::kube::load_kubeconfig(soak.kubeconfig, "/tmp");
    if (!config) {
      std::fprintf(stderr, "soak_churn: %s: %s\n", soak.kubeconfig.c_str(), config.error().message.c_str());
      return 1;
    }
    clients.push_back(std::make_unique<ballast::kube::KubeClient>(io, std::move(*config)));
  }
  const size_t threads = clients.size() * kThreadsPerClient;
  const auto api = [&](size_t thread) -> ballast::kube::KubeApi& { return *clients[thread / kThreadsPerClient]; };

  // The cluster: namespaces, Ready nodes (status is kept on a Node's create), Running pods.
  const auto filled_at = SteadyClock::now();
  // Without a controller manager no one makes a namespace's "default" ServiceAccount, and the
  // ServiceAccount admission plugin refuses pods until it exists.
  const ballast::kube::Resource service_accounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
  for (const char* ns : ballast::bench::kSoakNamespaces) {
    for (const auto& [resource, in, object] :
         {std::tuple{ballast::kube::namespaces(), "", json{{"metadata", {{"name", ns}}}}},
          std::tuple{service_accounts, ns, json{{"metadata", {{"name", "default"}}}}}}) {
      auto created = api(0).create(resource, in, object);
      if (!created && created.error().code != ballast::ErrorCode::kAlreadyExists) {
        std::fprintf(stderr, "soak_churn: %s in %s: %s\n", resource.kind.c_str(), ns, created.error().message.c_str());
        return 1;
      }
    }
  }
  const bool filled =
      fill_parallel(nodes, threads, [&](size_t t, int n) -> ballast::Status {
        auto created = api(t).create(ballast::kube::nodes(), "", soak_node(n));
        if (!created) return created.error();
        return ballast::Ok{};
      }, "node") &&
      fill_parallel(pods, threads, [&](size_t t, int p) {
        return create_running(api(t), soak_pod(0, p, nodes, true));
      }, "pod");
  if (!filled) return 1;
  std::printf("ready: %d nodes, %d pods written in %.0f s by %zu writers\n", nodes, pods,
              std::chrono::duration<double>(SteadyClock::now() - filled_at).count(), threads);
  std::fflush(stdout);

  // Ten ticks a second, each a tenth of the second's changes; a line every 10 s.
  Tally tally;
  ballast::bench::SoakSchedule schedule(nodes, pods, churn);
  const auto start = SteadyClock::now();
  size_t unwritten = 0;
  {
    Writers writers(clients, nodes, tally);
    long last_replaced = 0, last_flipped = 0, last_heartbeats = 0;
    for (int tick = 0; tick < seconds * 10 && !stopping; ++tick) {
      const auto due = start + tick * 100ms;
      std::this_thread::sleep_until(due);
      for (const auto& change : schedule.tick()) writers.push(change, due);
      if (tick % 100 == 99) {
        const long replaced = tally.count(SoakChange::Kind::kReplace);
        const long flipped = tally.count(SoakChange::Kind::kFlip);
        const long heartbeats = tally.count(SoakChange::Kind::kHeartbeat);
        std::printf("%4d s: replaced %.1f/s, flips %.1f/s, heartbeats %.1f/s, backlog %zu, late %ld ms, errors %ld\n",
                    (tick + 1) / 10, (replaced - last_replaced) / 10.0, (flipped - last_flipped) / 10.0,
                    (heartbeats - last_heartbeats) / 10.0, writers.backlog(), writers.late_ms(), tally.errors());
        std::fflush(stdout);
        last_replaced = replaced, last_flipped = flipped, last_heartbeats = heartbeats;
      }
    }
    unwritten = writers.backlog();
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf("churn: %.0f s at %d/s asked, %zu writers: %s; left in the queue at the end %zu\n", elapsed, churn,
              threads, tally.summary(elapsed).c_str(), unwritten);
  io.stop();
  return 0;
}
