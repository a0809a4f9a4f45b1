// Node-pool planner benchmark (issue 9):
//   1. generates a cluster (seeded): 1,000 nodes in 100 NodeGroups, 30,000 running pods,
//      5,000 pending pods, PDBs; as the JSON List `kubectl get -o json` would print;
//   2. times parse_snapshot, plan_scale_up and plan_scale_down in process (median of runs);
//   3. compares the scale-up node counts with a plain first-fit-decreasing baseline (pods
//      sorted by CPU, first fit over open nodes) on the same batches, and a lower bound;
//   4. writes the snapshot to a temp file and runs `ballast plan` on it under
//      /usr/bin/time -v for its peak RSS.
// Usage: plan_bench [--runs N] [--seed S] [--keep FILE] [--same-priority]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodepool/cluster_model.h"
#include "nodepool/plan_report.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace ballast::nodepool;
using ballast::Result;
using ballast::invalid_argument;

constexpr int kGroups = 100;
constexpr int kNodesPerGroup = 10;
constexpr int kPodsPerNode = 30;
constexpr int kPending = 5000;
constexpr const char* kNow = "2026-11-22T10:00:00Z";

struct Options {
  int runs = 5;
  uint32_t seed = 42;
  std::string keep;
  bool same_priority = false;  // every group priority 0: the expander can't skip tiers
};

std::string mi(int64_t v) { return std::to_string(v) + "Mi"; }
std::string m(int64_t v) { return std::to_string(v) + "m"; }

json make_pod(const std::string& ns, const std::string& name, const std::string& app, int64_t cpu, int64_t mem) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{"app", app}}},
            {"ownerReferences", {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", app}, {"controller", true}}}}}},
          {"spec", {{"containers", {{{"name", "main"}, {"image", "example/" + app},
                                     {"resources", {{"requests", {{"cpu", m(cpu)}, {"memory", mi(mem)}}}}}}}}}},
          {"status", {{"phase", "Running"}}}};
}

json generate(uint32_t seed, bool same_priority) {
  std::mt19937 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  json items = json::array();
  for (int g = 0; g < kGroups; ++g) {
    const std::string group = "pool-" + std::to_string(g);
    json status_nodes = json::array();
    for (int n = 0; n < kNodesPerGroup; ++n) {
      const std::string node = group + "-node-" + std::to_string(n);
      items.push_back({{"apiVersion", "v1"},
                       {"kind", "Node"},
                       {"metadata", {{"name", node}, {"labels", {{"ballast.dev/nodegroup", group}, {"pool", group},
                                                                 {"kubernetes.io/hostname", node}}}}},
                       {"spec", json::object()},
                       {"status", {{"allocatable", {{"cpu", "7800m"}, {"memory", "31Gi"}, {"pods", "110"}}},
                                   {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
      if (n % 2 == 0) status_nodes.push_back({{"name", node}, {"unneededSince", "2026-11-22T09:00:00Z"}});
      // 30 pods; per-node load between ~15 % and ~90 % of CPU.
      const int64_t budget = pick(1200, 7000);
      for (int p = 0; p < kPodsPerNode; ++p) {
        const int64_t cpu = std::max<int64_t>(10, budget / kPodsPerNode + pick(-20, 20));
        const int64_t mem = pick(64, 700);
        const std::string app = "app-" + std::to_string(pick(0, 299));
        json pod = make_pod("ns-" + std::to_string(g % 20), node + "-p" + std::to_string(p), app, cpu, mem);
        pod["spec"]["nodeName"] = node;
        pod["spec"]["nodeSelector"] = {{"pool", group}};
        items.push_back(std::move(pod));
      }
    }
    items.push_back({{"apiVersion", "ballast.dev/v1alpha1"},
                     {"kind", "NodeGroup"},
                     {"metadata", {{"name", group}}},
                     {"spec", {{"minNodes", 2},
                               {"maxNodes", 40},
                               {"priority", same_priority ? 0 : g % 3},
                               {"offerings", {{{"id", "V94"}, {"cpu", "8"}, {"memory", "32Gi"}, {"monthlyPrice", 11.2}},
                                              {{"id", "V92"}, {"cpu", "4"}, {"memory", "8Gi"}, {"monthlyPrice", 5.45}}}},
                               {"labels", {{"pool", group}}}}},
                     {"status", {{"nodes", status_nodes}}}});
  }
  for (int a = 0; a < 300; ++a) {
    items.push_back({{"apiVersion", "policy/v1"},
                     {"kind", "PodDisruptionBudget"},
                     {"metadata", {{"name", "app-" + std::to_string(a)}, {"namespace", "ns-" + std::to_string(a % 20)}}},
                     {"spec", {{"selector", {{"matchLabels", {{"app", "app-" + std::to_string(a)}}}}}}},
                     {"status", {{"disruptionsAllowed", a % 4 == 0 ? 0 : 1}}}});
  }
  for (int i = 0; i < kPending; ++i) {
    const int g = static_cast<int>(pick(0, kGroups - 1));
    json pod = make_pod("ai-services", "pending-" + std::to_string(i), "batch-" + std::to_string(i % 50),
                        pick(1, 16) * 250, pick(1, 24) * 256);
    pod.erase("status");
    pod["status"] = {{"phase", "Pending"},
                     {"conditions", {{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"},
                                      {"lastTransitionTime", "2026-11-22T09:58:00Z"}}}}};
    if (i % 10 != 0) pod["spec"]["nodeSelector"] = {{"pool", "pool-" + std::to_string(g)}};
    items.push_back(std::move(pod));
  }
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// Wall time of f; its thread CPU time goes to `cpu` (the machine is shared: CPU time is
// what the planner costs, wall time what it cost under the load at hand).
std::vector<double> cpu_samples;
template <typename F>
double time_ms(F&& f) {
  const double cpu_start = thread_cpu_ms();
  const auto start = Clock::now();
  f();
  cpu_samples.push_back(thread_cpu_ms() - cpu_start);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Plain FFD: pods by CPU request, descending; each into the first open node with room.
size_t plain_ffd(std::vector<Resources> pods, const Resources& allocatable) {
  std::stable_sort(pods.begin(), pods.end(), [](const Resources& a, const Resources& b) { return a.cpu_milli > b.cpu_milli; });
  std::vector<Resources> used;
  for (const auto& p : pods) {
    bool placed = false;
    for (auto& u : used) {
      if (check_resources(p, allocatable - u).ok()) {
        u += p;
        placed = true;
        break;
      }
    }
    if (!placed) used.push_back(p);
  }
  return used.size();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--same-priority") options.same_priority = true;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs") options.runs = std::atoi(argv[i + 1]);
    if (flag == "--seed") options.seed = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    if (flag == "--keep") options.keep = argv[i + 1];
  }
  const ballast::TimePoint now = *ballast::parse_time(kNow);

  json document;
  const double gen_ms = time_ms([&] { document = generate(options.seed, options.same_priority); });
  std::string text = document.dump();
  std::printf("snapshot: %zu objects, %.1f MiB of JSON (generated in %.0f ms)\n", document["items"].size(),
              double(text.size()) / (1024.0 * 1024.0), gen_ms);

  Result<ClusterSnapshot> cluster = invalid_argument("not parsed");
  std::vector<double> parse_ms;
  for (int r = 0; r < std::max(1, options.runs / 2); ++r) {
    parse_ms.push_back(time_ms([&] {
      json parsed = json::parse(text);
      cluster = parse_snapshot(parsed);
    }));
  }
  if (!cluster) {
    std::fprintf(stderr, "parse failed: %s\n", cluster.error().message.c_str());
    return 1;
  }
  document = nullptr;
  std::printf("model: %zu nodes, %zu pods, %zu PDBs, %zu NodeGroups\n", cluster->nodes.size(), cluster->pods.size(),
              cluster->pdbs.size(), cluster->node_groups.size());

  ScaleUpPlan up;
  ScaleDownPlan down;
  std::vector<double> up_ms;
  std::vector<double> down_ms;
  std::vector<double> up_cpu;
  std::vector<double> down_cpu;
  for (int r = 0; r < options.runs; ++r) {
    up_ms.push_back(time_ms([&] { up = plan_scale_up(*cluster, now); }));
    up_cpu.push_back(cpu_samples.back());
    ScaleDownOptions down_options;
    for (const auto& g : up.groups) {
      if (g.nodes_to_add() > 0) down_options.groups_scaling_up.insert(g.group);
    }
    down_options.pending_placements = up.fits_existing;
    down_ms.push_back(time_ms([&] { down = plan_scale_down(*cluster, now, down_options); }));
    down_cpu.push_back(cpu_samples.back());
  }
  // Scale-down with no group gated by a scale-up: every candidate simulated and eligible.
  std::vector<double> down_all_ms;
  std::vector<double> down_all_cpu;
  ScaleDownPlan down_all;
  for (int r = 0; r < options.runs; ++r) {
    down_all_ms.push_back(time_ms([&] { down_all = plan_scale_down(*cluster, now); }));
    down_all_cpu.push_back(cpu_samples.back());
  }

  size_t add = 0, fits = up.fits_existing.size(), unplaced = up.unplaced.size();
  size_t baseline = 0;
  size_t lower_bound = 0;
  std::map<std::string, const Pod*> pods;
  for (const auto& p : cluster->pods) pods[p.ref().str()] = &p;
  for (const auto& g : up.groups) {
    for (const auto& o : g.add) {
      add += o.nodes.size();
      std::vector<Resources> batch;
      Resources total;
      for (const auto& n : o.nodes) {
        for (const auto& ref : n.pods) {
          batch.push_back(pods.at(ref.str())->spec.requests);
          total += batch.back();
        }
      }
      baseline += plain_ffd(batch, o.allocatable);
      lower_bound += static_cast<size_t>(std::max(
          {std::ceil(double(total.cpu_milli) / double(o.allocatable.cpu_milli)),
           std::ceil(double(total.memory_bytes) / double(o.allocatable.memory_bytes)),
           std::ceil(double(total.pods) / double(o.allocatable.pods))}));
    }
  }
  size_t remove = 0, removable_all = 0, blocked = 0, unneeded = 0;
  for (const auto& g : down.groups) {
    remove += g.remove.size();
    for (const auto& n : g.nodes) {
      blocked += n.state == NodeState::kBlocked;
      unneeded += n.state == NodeState::kUnneeded;
    }
  }
  size_t unneeded_all = 0, blocked_all = 0, moves_all = 0;
  for (const auto& g : down_all.groups) {
    removable_all += g.remove.size();
    for (const auto& n : g.nodes) {
      unneeded_all += n.state == NodeState::kUnneeded;
      blocked_all += n.state == NodeState::kBlocked;
      moves_all += n.moves.size();
    }
  }

  std::printf("parse (JSON text -> model): median %.1f ms\n", median(parse_ms));
  std::printf("scale-up:   wall median %.2f ms, max %.2f ms; thread CPU median %.2f ms, min %.2f ms; %d runs"
              " (target <= 50 ms)\n",
              median(up_ms), *std::max_element(up_ms.begin(), up_ms.end()), median(up_cpu),
              *std::min_element(up_cpu.begin(), up_cpu.end()), options.runs);
  std::printf("            %zu pending pods: %zu fit existing nodes, %zu unplaceable; %zu nodes to add\n",
              up.pending_considered, fits, unplaced, add);
  std::printf("            baseline plain FFD (by cpu) on the same batches: %zu nodes; lower bound %zu\n", baseline,
              lower_bound);
  std::printf("scale-down: wall median %.2f ms, max %.2f ms; CPU median %.2f ms (target <= 500 ms);"
              " %zu to remove, %zu unneeded, %zu blocked\n",
              median(down_ms), *std::max_element(down_ms.begin(), down_ms.end()), median(down_cpu), remove, unneeded,
              blocked);
  std::printf("scale-down, no scale-up gate: wall median %.2f ms, max %.2f ms; CPU median %.2f ms; %zu to remove,"
              " %zu unneeded, %zu blocked, %zu pod moves simulated\n",
              median(down_all_ms), *std::max_element(down_all_ms.begin(), down_all_ms.end()), median(down_all_cpu),
              removable_all,
              unneeded_all, blocked_all, moves_all);

  // The binary on the same snapshot, for its peak RSS.
  std::string path = options.keep;
  if (path.empty()) {
    char pattern[] = "/tmp/ballast-plan-bench-XXXXXX";
    const int fd = mkstemp(pattern);
    if (fd < 0) return 1;
    close(fd);
    path = pattern;
  }
  std::ofstream(path) << text;
  text.clear();
  text.shrink_to_fit();
  const std::string log = path + ".time";
  const std::string command = std::string("/usr/bin/time -v ") + BALLAST_BINARY + " plan --snapshot " + path +
                              " --now " + kNow + " --output json > /dev/null 2> " + log;
  const int status = std::system(command.c_str());
  std::ifstream time_log(log);
  std::string line;
  while (std::getline(time_log, line)) {
    if (line.find("Maximum resident set size") != std::string::npos || line.find("Elapsed (wall") != std::string::npos ||
        line.find("Exit status") != std::string::npos || line.find("User time") != std::string::npos) {
      std::printf("ballast plan:%s\n", line.c_str());
    }
  }
  std::remove(log.c_str());
  if (options.keep.empty()) std::remove(path.c_str());
  return status == 0 ? 0 : 1;
}
