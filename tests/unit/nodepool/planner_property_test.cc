// Property tests on generated clusters (seeded, so failures reproduce): whatever the
// cluster, the plans keep the invariants the reconciler relies on.
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "nodepool/plan_report.h"
#include "unit/nodepool/cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

namespace {

constexpr int64_t kGi = 1LL << 30;

struct Generator {
  explicit Generator(uint32_t seed) : rng(seed) {}
  std::mt19937 rng;

  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng); }

  Pod make_pod(const std::string& ns, const std::string& name, int64_t cpu, int64_t mem) {
    Pod p;
    p.ns = ns;
    p.name = name;
    p.labels = {{"app", "app-" + std::to_string(pick(0, 9))}};
    p.spec.requests = {cpu, mem, 1};
    p.controller_kind = "ReplicaSet";
    p.controller_name = p.labels["app"];
    p.phase = "Running";
    return p;
  }

  ClusterSnapshot cluster() {
    ClusterSnapshot c;
    const int groups = static_cast<int>(pick(1, 4));
    for (int g = 0; g < groups; ++g) {
      NodeGroup group;
      group.name = "g" + std::to_string(g);
      group.min_nodes = pick(0, 2);
      group.max_nodes = group.min_nodes + pick(0, 5);
      group.priority = pick(0, 2);
      const int offerings = static_cast<int>(pick(1, 2));
      for (int o = 0; o < offerings; ++o) {
        group.offerings.push_back({"o" + std::to_string(o), {pick(2, 8) * 1000, pick(4, 16) * kGi, pick(8, 110)},
                                   double(pick(3, 20))});
      }
      group.labels = {{"pool", group.name}};
      if (chance(0.3)) group.taints = {{"dedicated", group.name, "NoSchedule"}};
      group.scale_down.max_empty_bulk_delete = pick(1, 3);
      if (chance(0.2)) group.status.last_scale_up = at(kNow) - std::chrono::seconds(pick(0, 1200));
      const int64_t in_flight = chance(0.3) ? pick(0, std::min<int64_t>(1, group.max_nodes - group.min_nodes)) : 0;
      for (int64_t i = 0; i < in_flight; ++i) {
        InFlightNode entry;
        entry.name = group.name + "-new-" + std::to_string(i);
        group.status.in_flight.push_back(entry);
      }
      const int64_t nodes = pick(group.min_nodes, group.max_nodes - in_flight);
      for (int64_t n = 0; n < nodes; ++n) {
        Node node;
        node.name = group.name + "-n" + std::to_string(n);
        const Offering& offering = group.offerings[static_cast<size_t>(pick(0, offerings - 1))];
        node.allocatable = offering.capacity - group.reserved;
        node.labels = group.labels;
        node.labels[kNodeGroupLabel] = group.name;
        node.taints = group.taints;
        if (chance(0.1)) node.annotations[kScaleDownDisabledAnnotation] = "true";
        if (chance(0.6)) {
          NodeStatusEntry entry;
          entry.name = node.name;
          entry.unneeded_since = at(kNow) - std::chrono::seconds(pick(0, 1800));
          group.status.nodes.push_back(entry);
        }
        // Fill to a random fraction with pods that fit.
        Resources used;
        const double target = double(pick(0, 95)) / 100.0;
        for (int k = 0; k < 20 && double(used.cpu_milli) < target * double(node.allocatable.cpu_milli); ++k) {
          const int64_t cpu = pick(1, 20) * 50;
          const int64_t mem = pick(1, 16) * 128 * 1024 * 1024;
          if (!check_resources({cpu, mem, 1}, node.allocatable - used).ok()) break;
          Pod p = make_pod("ns" + std::to_string(pick(0, 2)), node.name + "-p" + std::to_string(k), cpu, mem);
          p.node_name = node.name;
          p.spec.tolerations = {{"", "Exists", "", ""}};
          if (chance(0.05)) p.controller_kind.clear();
          if (chance(0.05)) p.local_volumes = {"cache"};
          if (chance(0.05)) p.controller_kind = "DaemonSet";
          used += p.spec.requests;
          c.pods.push_back(std::move(p));
        }
        c.nodes.push_back(std::move(node));
      }
      c.node_groups.push_back(std::move(group));
    }
    for (int a = 0; a < 10; ++a) {
      if (!chance(0.4)) continue;
      PodDisruptionBudget pdb;
      pdb.ns = "ns" + std::to_string(pick(0, 2));
      pdb.name = "pdb-" + std::to_string(a);
      pdb.selector = LabelSelector::from_labels({{"app", "app-" + std::to_string(a)}});
      pdb.disruptions_allowed = pick(0, 2);
      c.pdbs.push_back(std::move(pdb));
    }
    const int64_t pending = pick(0, 40);
    for (int64_t i = 0; i < pending; ++i) {
      Pod p = make_pod("ai", "pending-" + std::to_string(i), pick(1, 60) * 100, pick(1, 40) * 256 * 1024 * 1024);
      p.phase = "Pending";
      p.unschedulable = true;
      p.unschedulable_since = at(kNow) - std::chrono::seconds(pick(0, 60));
      if (chance(0.3)) p.spec.node_selector = {{"pool", "g" + std::to_string(pick(0, 4))}};
      if (chance(0.5)) p.spec.tolerations = {{"dedicated", "Exists", "", ""}};
      c.pods.push_back(std::move(p));
    }
    return c;
  }
};

bool blocked_by_pdb(const Pod& pod, const ClusterSnapshot& c) {
  for (const auto& pdb : c.pdbs) {
    if (pdb.ns == pod.ns && pdb.disruptions_allowed == 0 && pdb.selector.matches(pod.labels)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("generated clusters: plans respect allocatable, group bounds and PDBs", "[property]") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("seed " << seed);
    Generator gen(seed);
    const ClusterSnapshot c = gen.cluster();
    const Plan plan = make_plan(c, at(kNow));
    std::map<std::string, const Pod*> pods_by_ref;
    for (const auto& p : c.pods) pods_by_ref[p.ref().str()] = &p;

    // Scale-up: new nodes hold no more than their template; groups stay within max.
    for (size_t g = 0; g < c.node_groups.size(); ++g) {
      const NodeGroup& group = c.node_groups[g];
      const GroupScaleUp* up = plan.scale_up.find(group.name);
      REQUIRE(up != nullptr);
      for (const auto& o : up->add) {
        for (const auto& n : o.nodes) {
          Resources sum;
          for (const auto& ref : n.pods) sum += pods_by_ref.at(ref.str())->spec.requests;
          CHECK(sum == n.requested);
          CHECK(check_resources(sum, o.allocatable).ok());
        }
      }
      const GroupScaleDown* down = plan.scale_down.find(group.name);
      REQUIRE(down != nullptr);
      const int64_t result = up->target_nodes() - static_cast<int64_t>(down->remove.size());
      CHECK(up->target_nodes() <= group.max_nodes);
      CHECK(result >= std::min(group.min_nodes, up->current_nodes + up->in_flight));
      CHECK(result <= group.max_nodes);
      if (up->nodes_to_add() > 0) CHECK(down->remove.empty());
      CHECK(down->target_nodes() >= std::min(group.min_nodes, down->current_nodes));
    }

    // Existing nodes after the pending pods placed on them and the drain's moves.
    std::map<std::string, Resources> used;
    std::map<std::string, Resources> alloc;
    for (const auto& n : c.nodes) alloc[n.name] = n.allocatable;
    for (const auto& p : c.pods) {
      if (!p.node_name.empty()) used[p.node_name] += p.spec.requests;
    }
    for (const auto& f : plan.scale_up.fits_existing) {
      if (!f.in_flight) used[f.node] += pods_by_ref.at(f.pod.str())->spec.requests;
    }
    std::set<std::string> removed;
    for (const auto& g : plan.scale_down.groups) removed.insert(g.remove.begin(), g.remove.end());
    for (const auto& g : plan.scale_down.groups) {
      for (const auto& n : g.nodes) {
        if (n.state != NodeState::kRemove) continue;
        for (const auto& m : n.moves) {
          CHECK_FALSE(removed.count(m.to));
          used[m.to] += pods_by_ref.at(m.pod.str())->spec.requests;
        }
        // No pod with a blocking PDB, and nothing else that blocks, is evicted.
        for (const auto& p : c.pods) {
          if (p.node_name != n.node || p.daemonset() || p.mirror) continue;
          CHECK_FALSE(blocked_by_pdb(p, c));
          CHECK_FALSE(p.controller_kind.empty());
          CHECK(p.local_volumes.empty());
        }
        CHECK(n.blockers.empty());
      }
    }
    // Moves of removed nodes land only where there is room, whatever else fits there.
    for (const auto& [name, u] : used) {
      if (removed.count(name) || !alloc.count(name)) continue;
      INFO("node " << name);
      CHECK(check_resources(u, alloc[name]).ok());
    }
  }
}
