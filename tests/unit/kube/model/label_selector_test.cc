#include "kube/model/label_selector.h"

#include <catch2/catch.hpp>

using namespace ballast::kube;
using json = nlohmann::json;

TEST_CASE("a label selector matches labels with Kubernetes' semantics", "[label-selector]") {
  const Labels web{{"app", "web"}, {"tier", "front"}};
  const Labels bare{};
  struct Row {
    const char* selector;
    bool matches_web;
    bool matches_bare;
  };
  const Row rows[] = {
      {R"({})", true, true},
      {R"({"matchLabels": {}})", true, true},
      {R"({"matchLabels": {"app": "web"}})", true, false},
      {R"({"matchLabels": {"app": "web", "tier": "back"}})", false, false},
      {R"({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]})", true, false},
      {R"({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]})", false, false},
      {R"({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]})", true, true},
      {R"({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]})", false, true},
      {R"({"matchExpressions": [{"key": "tier", "operator": "Exists"}]})", true, false},
      {R"({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})", false, true},
      {R"({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]})",
       true, false},
      {R"({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "canary", "operator": "Exists"}]})", false, false},
  };
  for (const auto& row : rows) {
    INFO(row.selector);
    auto selector = LabelSelector::parse(json::parse(row.selector));
    REQUIRE(selector.ok());
    CHECK(selector->matches(web) == row.matches_web);
    CHECK(selector->matches(bare) == row.matches_bare);
  }
}

TEST_CASE("a null label selector matches nothing and an empty one everything", "[label-selector]") {
  auto null_selector = LabelSelector::parse(json());
  REQUIRE(null_selector.ok());
  CHECK(null_selector->is_null());
  CHECK_FALSE(null_selector->matches({}));
  CHECK_FALSE(LabelSelector().matches({{"app", "web"}}));
  auto everything = LabelSelector::parse(json::object());
  REQUIRE(everything.ok());
  CHECK(everything->is_everything());
  CHECK(everything->matches({{"app", "web"}}));
}

TEST_CASE("a malformed label selector is an error, not a match", "[label-selector]") {
  for (const char* text : {
           R"([])",
           R"({"matchLabels": []})",
           R"({"matchLabels": {"app": 1}})",
           R"({"matchExpressions": {}})",
           R"({"matchExpressions": [{"key": "app", "operator": "Like", "values": ["w"]}]})",
           R"({"matchExpressions": [{"key": "app", "operator": "In"}]})",
           R"({"matchExpressions": [{"key": "app", "operator": "In", "values": []}]})",
           R"({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]})",
           R"({"matchExpressions": [{"operator": "Exists"}]})",
           R"({"matchExpressions": [{"key": "app", "operator": "In", "values": [1]}]})",
       }) {
    INFO(text);
    CHECK_FALSE(LabelSelector::parse(json::parse(text)).ok());
  }
}

TEST_CASE("the selector built from labels is the matchLabels selector", "[label-selector]") {
  const auto built = LabelSelector::from_labels({{"app", "pg"}});
  auto parsed = LabelSelector::parse(json::parse(R"({"matchLabels": {"app": "pg"}})"));
  REQUIRE(parsed.ok());
  for (const Labels& labels : {Labels{{"app", "pg"}}, Labels{{"app", "pg"}, {"role", "replica"}}, Labels{{"app", "x"}},
                               Labels{}}) {
    CHECK(built.matches(labels) == parsed->matches(labels));
  }
  CHECK(LabelSelector::everything().is_everything());
  CHECK(LabelSelector::everything().matches({}));
}

TEST_CASE("matchLabels and matchExpressions are ANDed, matchLabels first", "[label-selector]") {
  auto selector = LabelSelector::parse(json::parse(
      R"({"matchLabels": {"app": "pg"}, "matchExpressions": [{"key": "role", "operator": "In", "values": ["primary", "replica"]}]})"));
  REQUIRE(selector.ok());
  CHECK(selector->matches({{"app", "pg"}, {"role", "replica"}}));
  CHECK_FALSE(selector->matches({{"app", "pg"}}));
  CHECK_FALSE(selector->matches({{"role", "primary"}}));
  REQUIRE(selector->requirements().size() == 2);
  CHECK(selector->requirements()[0].key == "app");
  CHECK(selector->requirements()[1].op == LabelSelector::Operator::kIn);
}

TEST_CASE("null parts of a selector are absent parts", "[label-selector]") {
  auto selector = LabelSelector::parse(json::parse(R"({"matchLabels": null, "matchExpressions": null})"));
  REQUIRE(selector.ok());
  CHECK(selector->is_everything());
}
