#include <catch2/catch.hpp>

#include <algorithm>

#include "kube/model/shared_objects.h"

using ballast::kube::SharedObjects;
using nlohmann::json;

TEST_CASE("shared objects read like a vector of objects and copy only pointers", "[shared_objects]") {
  const SharedObjects pods{json{{"name", "a"}}, json{{"name", "b"}}};
  REQUIRE(pods.size() == 2);
  CHECK(pods.front()["name"] == "a");
  CHECK(pods.back()["name"] == "b");
  CHECK(pods[1]["name"] == "b");
  CHECK(std::distance(pods.begin(), pods.end()) == 2);
  CHECK(pods.begin()->at("name") == "a");

  SharedObjects all;
  all.push_back(json{{"name", "node"}});
  all.append(pods);
  REQUIRE(all.size() == 3);
  CHECK(&all[1] == &pods[0]);  // appended by pointer: the same object, not a copy
  CHECK(std::find_if(all.begin(), all.end(), [](const json& o) { return o["name"] == "b"; }) != all.end());

  const auto values = pods.copies();
  REQUIRE(values.size() == 2);
  CHECK(values[0] == pods[0]);
  CHECK(&values[0] != &pods[0]);  // copies() is the one deep copy
  CHECK(SharedObjects{}.empty());
}
