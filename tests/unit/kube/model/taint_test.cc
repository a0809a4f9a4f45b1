#include "kube/model/taint.h"

#include <catch2/catch.hpp>

using namespace ballast::kube;

TEST_CASE("tolerations match taints by key, value, operator and effect", "[taint]") {
  const Taint taint{"dedicated", "db", "NoSchedule"};
  struct Row {
    Toleration toleration;
    bool tolerated;
  };
  const Row rows[] = {
      {{"dedicated", "Equal", "db", "NoSchedule"}, true},
      {{"dedicated", "Equal", "db", ""}, true},
      {{"dedicated", "", "db", ""}, true},  // an empty operator means Equal
      {{"dedicated", "Exists", "", ""}, true},
      {{"dedicated", "Exists", "", "NoSchedule"}, true},
      {{"", "Exists", "", ""}, true},
      {{"", "Exists", "", "NoExecute"}, false},
      {{"dedicated", "Equal", "web", "NoSchedule"}, false},
      {{"dedicated", "Equal", "", "NoSchedule"}, false},
      {{"dedicated", "Equal", "db", "NoExecute"}, false},
      {{"other", "Exists", "", ""}, false},
      {{"dedicated", "Gt", "db", ""}, false},
  };
  for (const auto& row : rows) {
    INFO(row.toleration.key << " " << row.toleration.op << " " << row.toleration.value << " "
                            << row.toleration.effect);
    CHECK(row.toleration.tolerates(taint) == row.tolerated);
    CHECK(tolerates({row.toleration}, taint) == row.tolerated);
  }
  CHECK_FALSE(tolerates({}, taint));
}

TEST_CASE("a taint prints as kubectl writes it", "[taint]") {
  CHECK(Taint{"dedicated", "db", "NoSchedule"}.str() == "dedicated=db:NoSchedule");
  CHECK(Taint{"node.kubernetes.io/unschedulable", "", "NoSchedule"}.str() ==
        "node.kubernetes.io/unschedulable:NoSchedule");
}

TEST_CASE("only the taints a starting node carries are startup taints", "[taint]") {
  const std::pair<const char*, bool> rows[] = {
      {"node.kubernetes.io/not-ready", true},
      {"node.kubernetes.io/unreachable", true},
      {"node.cloudprovider.kubernetes.io/uninitialized", true},
      {"node.kubernetes.io/unschedulable", false},  // a cordon is the operator's, not the start's
      {"ballast.dev/to-be-deleted", false},
      {"node.kubernetes.io/not-ready-x", false},
      {"", false},
  };
  for (const auto& [key, startup] : rows) {
    INFO(key);
    CHECK(is_startup_taint(key) == startup);
  }
}
