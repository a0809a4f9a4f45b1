#include "nodepool/scheduling.h"

#include <catch2/catch.hpp>

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
