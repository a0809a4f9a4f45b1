// ParsedPods: a pod is parsed once per change of its cached object, not once per pass.
#include <catch2/catch.hpp>

#include <memory>

#include "unit/nodepool/cluster_builder.h"
#include "nodepool/parsed_pods.h"

using ballast::kube::ObjectRef;
using ballast::kube::SharedObjects;
using ballast::nodepool::ParsedPods;
using ballast::nodepool::Pod;
using nlohmann::json;
using namespace ballast::nodepool::testing;

namespace {

ObjectRef cached(const json& object) { return std::make_shared<const json>(object); }
// As the informer keeps a pod: its JSON text.
ObjectRef cached_as_text(const json& object) { return std::make_shared<const json>(object.dump()); }

SharedObjects snapshot(std::initializer_list<ObjectRef> refs) { return SharedObjects(std::vector<ObjectRef>(refs)); }

std::vector<std::string> names(const std::vector<Pod>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p.name + "@" + p.node_name);
  return out;
}

}  // namespace

TEST_CASE("pods are parsed when first seen and when their object changes, never again", "[parsed_pods]") {
  ParsedPods pods;
  const auto a = cached_as_text(pod("shop", "a", "n1", "100m", "64Mi"));
  const auto b = cached_as_text(pod("shop", "b", "n1", "100m", "64Mi"));
  const auto c = cached(pod("shop", "c", "n2", "100m", "64Mi"));  // a plain object (ballast plan, tests)

  struct Pass {
    const char* what;
    SharedObjects objects;
    std::vector<std::string> want;
    size_t parsed;
  };
  const auto b_moved = cached_as_text(pod("shop", "b", "n2", "100m", "64Mi"));
  const Pass passes[] = {
      {"first pass: every pod", snapshot({a, b, c}), {"a@n1", "b@n1", "c@n2"}, 3},
      {"nothing changed", snapshot({a, b, c}), {"a@n1", "b@n1", "c@n2"}, 0},
      {"b replaced", snapshot({a, b_moved, c}), {"a@n1", "b@n2", "c@n2"}, 1},
      {"a deleted", snapshot({b_moved, c}), {"b@n2", "c@n2"}, 0},
      {"a back (a new object)", snapshot({cached_as_text(pod("shop", "a", "n1", "100m", "64Mi")), b_moved, c}),
       {"a@n1", "b@n2", "c@n2"}, 1},
  };
  for (const auto& pass : passes) {
    INFO(pass.what);
    auto parsed = pods.update(pass.objects);
    REQUIRE(parsed.ok());
    CHECK(names(*parsed) == pass.want);
    CHECK(pods.parsed_last() == pass.parsed);
  }
}

TEST_CASE("a pod that does not parse fails the pass and the others stay parsed", "[parsed_pods]") {
  ParsedPods pods;
  const auto a = cached_as_text(pod("shop", "a", "n1", "100m", "64Mi"));
  const auto b = cached_as_text(pod("shop", "b", "n1", "100m", "64Mi"));
  REQUIRE(pods.update(snapshot({a, b})).ok());

  json broken = pod("shop", "bad", "n1", "lots", "64Mi");
  auto failed = pods.update(snapshot({a, b, cached_as_text(broken)}));
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message, Catch::Contains("Pod shop/bad") && Catch::Contains("requests.cpu"));

  auto again = pods.update(snapshot({a, b}));
  REQUIRE(again.ok());
  CHECK(pods.parsed_last() == 0);  // a and b were kept through the failed pass

  auto not_json = pods.update(snapshot({a, std::make_shared<const json>("{\"kind\": \"Pod\", ")}));
  REQUIRE_FALSE(not_json.ok());
}
