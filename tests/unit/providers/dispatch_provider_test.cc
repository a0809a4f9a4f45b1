#include "providers/dispatch_provider.h"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace ballast;
using namespace ballast::providers;

TEST_CASE("dispatch payload has exactly the repository_dispatch shape of the contract") {
  const auto body = nlohmann::json::parse(dispatch_payload("ballast-scale", DispatchDirection::kDown, "general", 3,
                                                           {"general-a1"}, "scale-down",
                                                           "0b8f0a8e-3c1d-4e55-9d0b-8e2f6a1c2b3d"));
  const nlohmann::json expected = {
      {"event_type", "ballast-scale"},
      {"client_payload",
       {{"nodegroup", "general"},
        {"direction", "down"},
        {"desired", 3},
        {"remove", {"general-a1"}},
        {"reason", "scale-down"},
        {"requestId", "0b8f0a8e-3c1d-4e55-9d0b-8e2f6a1c2b3d"}}}};
  CHECK(body == expected);
}

TEST_CASE("dispatch payload sends an empty remove list on scale-up") {
  const auto body = nlohmann::json::parse(dispatch_payload("e", DispatchDirection::kUp, "g", 2, {}, "r", "id"));
  CHECK(body["client_payload"]["remove"] == nlohmann::json::array());
  CHECK(body["client_payload"]["direction"] == "up");
}
