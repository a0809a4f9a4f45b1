#include "nodepool/scheduling.h"

#include <catch2/catch.hpp>

#include "unit/nodepool/cluster_builder.h"

using namespace ballast::nodepool;

namespace {

SelectorRequirement req(std::string key, std::string op, std::vector<std::string> values = {}) {
  return {std::move(key), std::move(op), std::move(values)};
}

}  // namespace

TEST_CASE("required node affinity supports In, NotIn, Exists, DoesNotExist, Gt and Lt", "[scheduling]") {
  const Labels labels{{"zone", "eu-1"}, {"cores", "4"}, {"gpu", "none"}};
  struct Row {
    SelectorRequirement requirement;
    bool matches;
  };
  const Row rows[] = {
      {req("zone", "In", {"eu-1", "eu-2"}), true},   {req("zone", "In", {"us"}), false},
      {req("zone", "NotIn", {"us"}), true},          {req("missing", "NotIn", {"x"}), true},
      {req("zone", "Exists"), true},                 {req("missing", "Exists"), false},
      {req("missing", "DoesNotExist"), true},        {req("zone", "DoesNotExist"), false},
      {req("cores", "Gt", {"2"}), true},             {req("cores", "Gt", {"4"}), false},
      {req("cores", "Lt", {"8"}), true},             {req("zone", "Gt", {"1"}), false},
  };
  for (const auto& row : rows) {
    INFO(row.requirement.key << " " << row.requirement.op);
    NodeSelectorTerm term{{row.requirement}, {}};
    CHECK(node_selector_term_matches(term, labels, "n1") == row.matches);
  }
}

TEST_CASE("static predicates report which one failed", "[scheduling]") {
  const Labels labels{{"workload-type", "general"}};
  const std::vector<Taint> taints{{"dedicated", "ai", "NoSchedule"}, {"soft", "", "PreferNoSchedule"}};
  const NodeShape shape{"n1", &labels, &taints, false};
  PodSchedulingSpec pod;
  pod.tolerations = {{"dedicated", "Equal", "ai", ""}};
  CHECK(check_static(pod, shape).ok());

  PodSchedulingSpec selector = pod;
  selector.node_selector = {{"workload-type", "ai"}};
  CHECK(check_static(selector, shape).failure == FitFailure::kNodeSelector);

  PodSchedulingSpec affinity = pod;
  affinity.required_affinity = {{{req("workload-type", "In", {"ai"})}, {}}, {{req("missing", "Exists")}, {}}};
  CHECK(check_static(affinity, shape).failure == FitFailure::kNodeAffinity);
  affinity.required_affinity.push_back({{req("workload-type", "In", {"general"})}, {}});
  CHECK(check_static(affinity, shape).ok());  // terms are ORed

  PodSchedulingSpec untolerated;
  const FitResult taint = check_static(untolerated, shape);
  CHECK(taint.failure == FitFailure::kTaint);
  CHECK(taint.detail == "taint dedicated=ai:NoSchedule");

  const NodeShape cordoned{"n1", &labels, nullptr, true};
  CHECK(check_static(PodSchedulingSpec{}, cordoned).failure == FitFailure::kTaint);
}

TEST_CASE("resource fit checks pods, cpu and memory against what is free", "[scheduling]") {
  const Resources free{1000, 1 << 30, 2};
  CHECK(check_resources({1000, 1 << 30, 1}, free).ok());
  CHECK(check_resources({1001, 1, 1}, free).failure == FitFailure::kInsufficientCpu);
  CHECK(check_resources({1, (1 << 30) + 1, 1}, free).failure == FitFailure::kInsufficientMemory);
  CHECK(check_resources({1, 1, 3}, free).failure == FitFailure::kTooManyPods);
}

namespace {

using ballast::nodepool::testing::labelled;
using ballast::nodepool::testing::with_pod_affinity;
using ballast::nodepool::testing::with_spread;
using json = nlohmann::json;

Pod parsed_pod(const json& object) {
  auto pod = parse_pod(object);
  if (!pod) throw std::runtime_error(pod.error().message);
  return std::move(*pod);
}

// A replica of `app` (label app=<app>), bound nowhere: the topology decides where it is.
json replica(const std::string& name, const std::string& app) {
  return labelled(ballast::nodepool::testing::pod("db", name, "", "100m", "64Mi"), "app", app);
}

}  // namespace

TEST_CASE("the inter-pod rules decide as kube-scheduler's filters", "[scheduling]") {
  // Nodes a1, a2 in zone a, b1 in zone b, c1 in zone c, and `bare` without a zone label.
  const std::vector<Labels> labels{{{"kubernetes.io/hostname", "a1"}, {"topology.kubernetes.io/zone", "a"}},
                                   {{"kubernetes.io/hostname", "a2"}, {"topology.kubernetes.io/zone", "a"}},
                                   {{"kubernetes.io/hostname", "b1"}, {"topology.kubernetes.io/zone", "b"}},
                                   {{"kubernetes.io/hostname", "c1"}, {"topology.kubernetes.io/zone", "c"}},
                                   {{"kubernetes.io/hostname", "bare"}}};
  const std::string zone = "topology.kubernetes.io/zone";
  struct Placed {
    size_t node;
    json pod;
  };
  struct Row {
    const char* name;
    std::vector<Placed> placed;
    json pod;
    size_t node;
    FitFailure expected;
    size_t ignore = PodTopology::kNoNode;
  };
  const std::vector<Row> rows{
      {"anti-affinity: a selected pod on the node", {{0, replica("pg-0", "pg")}},
       with_pod_affinity(replica("pg-1", "pg"), "podAntiAffinity", "pg"), 0, FitFailure::kPodAntiAffinity},
      {"anti-affinity: another node is another hostname domain", {{0, replica("pg-0", "pg")}},
       with_pod_affinity(replica("pg-1", "pg"), "podAntiAffinity", "pg"), 1, FitFailure::kNone},
      {"anti-affinity by zone: the zone's other node counts", {{0, replica("pg-0", "pg")}},
       with_pod_affinity(replica("pg-1", "pg"), "podAntiAffinity", "pg", zone), 1, FitFailure::kPodAntiAffinity},
      {"anti-affinity by zone: a node without the zone label is in no domain", {{0, replica("pg-0", "pg")}},
       with_pod_affinity(replica("pg-1", "pg"), "podAntiAffinity", "pg", zone), 4, FitFailure::kNone},
      {"anti-affinity of a placed pod turns the newcomer away",
       {{2, with_pod_affinity(replica("pg-0", "pg"), "podAntiAffinity", "web")}}, replica("web-1", "web"), 2,
       FitFailure::kPodAntiAffinity},
      {"anti-affinity: pods of the node being emptied do not count", {{0, replica("pg-0", "pg")}},
       with_pod_affinity(replica("pg-1", "pg"), "podAntiAffinity", "pg"), 0, FitFailure::kNone, 0},
      {"affinity: a selected pod in the zone", {{0, replica("cache-0", "cache")}},
       with_pod_affinity(replica("web-0", "web"), "podAffinity", "cache", zone), 1, FitFailure::kNone},
      {"affinity: the selected pod runs in another zone", {{0, replica("cache-0", "cache")}},
       with_pod_affinity(replica("web-0", "web"), "podAffinity", "cache", zone), 2, FitFailure::kPodAffinity},
      {"affinity: the first of a self-affine set may start anywhere", {},
       with_pod_affinity(replica("web-0", "web"), "podAffinity", "web", zone), 2, FitFailure::kNone},
      {"affinity: nothing selected anywhere and not self-affine", {},
       with_pod_affinity(replica("web-0", "web"), "podAffinity", "cache", zone), 2, FitFailure::kPodAffinity},
      {"affinity: a node without the key", {{4, replica("cache-0", "cache")}},
       with_pod_affinity(replica("web-0", "web"), "podAffinity", "cache", zone), 4, FitFailure::kPodAffinity},
      {"spread by hostname: one more where others have none exceeds maxSkew 1", {{0, replica("w-0", "w")}},
       with_spread(replica("w-1", "w"), "w"), 0, FitFailure::kTopologySpread},
      {"spread by hostname: an empty node is fine", {{0, replica("w-0", "w")}}, with_spread(replica("w-1", "w"), "w"),
       1, FitFailure::kNone},
      {"spread by zone: zone a has 2, zones b and c none", {{0, replica("w-0", "w")}},
       with_spread(replica("w-1", "w"), "w", zone), 1, FitFailure::kTopologySpread},
      {"spread by zone: maxSkew 2 allows it", {{0, replica("w-0", "w")}}, with_spread(replica("w-1", "w"), "w", zone, 2),
       1, FitFailure::kNone},
      {"spread: a node without the key is refused", {}, with_spread(replica("w-1", "w"), "w", zone), 4,
       FitFailure::kTopologySpread},
      {"spread counts only its own namespace's pods",
       {{0, labelled(ballast::nodepool::testing::pod("other", "w-0", "", "100m", "64Mi"), "app", "w")}},
       with_spread(replica("w-1", "w"), "w"), 0, FitFailure::kNone},
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      std::vector<Pod> placed;
      placed.reserve(row.placed.size());
      PodTopology topology;
      const std::vector<Taint> no_taints;
      for (const auto& l : labels) topology.add_node(&l, &no_taints, l.at("kubernetes.io/hostname"));
      for (const auto& p : row.placed) {
        placed.push_back(parsed_pod(p.pod));
        topology.place(p.node, placed.back());
      }
      const Pod pod = parsed_pod(row.pod);
      const FitResult fit = topology.check(pod, row.node, row.ignore);
      INFO(fit.detail);
      CHECK(fit.failure == row.expected);
    }
  }
}

TEST_CASE("spread domains honour the pod's node affinity and ignore hidden nodes", "[scheduling]") {
  const std::vector<Labels> labels{{{"kubernetes.io/hostname", "a1"}, {"zone", "a"}, {"pool", "db"}},
                                   {{"kubernetes.io/hostname", "b1"}, {"zone", "b"}, {"pool", "db"}},
                                   {{"kubernetes.io/hostname", "c1"}, {"zone", "c"}, {"pool", "web"}}};
  const std::vector<Taint> no_taints;
  PodTopology topology;
  for (const auto& l : labels) topology.add_node(&l, &no_taints, l.at("kubernetes.io/hostname"));
  const Pod first = parsed_pod(replica("w-0", "w"));
  topology.place(1, first);
  json pod = with_spread(replica("w-1", "w"), "w", "zone");
  pod["spec"]["nodeSelector"] = {{"pool", "db"}};
  // Zone c is not a domain for a pod that only may use pool=db: a (0) vs b (1).
  CHECK(topology.check(parsed_pod(pod), 0).ok());
  CHECK(topology.check(parsed_pod(pod), 1).failure == FitFailure::kTopologySpread);
  // Without the selector zone c (0) counts too, and a node being removed stops counting.
  const Pod anywhere = parsed_pod(with_spread(replica("w-2", "w"), "w", "zone"));
  CHECK(topology.check(anywhere, 1).failure == FitFailure::kTopologySpread);
  topology.hide(1);
  CHECK(topology.check(anywhere, 0).ok());
}
