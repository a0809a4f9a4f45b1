#include "sources/kafka/coordinators.h"

#include <catch2/catch.hpp>

using namespace ballast::kafka;

TEST_CASE("a group is first asked of the lowest broker id, then of the broker that answered", "[coordinators]") {
  Coordinators coordinators;
  const std::vector<int32_t> brokers{1, 2, 3};
  CHECK(coordinators.broker_for("workers", brokers) == 1);
  coordinators.answered("workers", 3);
  CHECK(coordinators.broker_for("workers", brokers) == 3);
  CHECK(coordinators.broker_for("other", brokers) == 1);
}

TEST_CASE("a broker that is not the coordinator, or did not answer, hands the group to the next id",
          "[coordinators]") {
  struct Case {
    std::vector<int32_t> brokers;
    int32_t asked;
    int32_t next;
  };
  const std::vector<Case> cases{
      {{1, 2, 3}, 1, 2},
      {{1, 2, 3}, 3, 1},     // wraps around
      {{0, 5, 9}, 6, 9},     // the broker asked has left the cluster: the next id above it
      {{0, 5, 9}, 12, 0},
      {{7}, 7, 7},           // one broker: asked again
  };
  for (const auto& c : cases) {
    Coordinators coordinators;
    CHECK(coordinators.move_on("workers", c.asked, c.brokers) == c.next);
    CHECK(coordinators.broker_for("workers", c.brokers) == c.next);
  }
}

TEST_CASE("a remembered coordinator that left the cluster is not asked again", "[coordinators]") {
  Coordinators coordinators;
  coordinators.answered("workers", 4);
  CHECK(coordinators.broker_for("workers", {1, 2, 3}) == 1);
  CHECK(coordinators.broker_for("workers", {1, 2, 3, 4}) == 4);
}
