// `ballast plan` end to end: the built binary on the golden fixtures.

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "fakes/shell.h"

namespace {

// stdout only (stderr to /dev/null unless asked).
ballast::testing::CommandOutput run(const std::string& args, bool with_stderr = false) {
  return ballast::testing::run_command(std::string(BALLAST_BINARY) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

// tests/integration/plan_test.cc → tests/fixtures/plan/
const std::string kFixtures =
    (std::filesystem::weakly_canonical(std::filesystem::path(__FILE__)).parent_path().parent_path() / "fixtures" / "plan")
        .string() + "/";

}  // namespace

TEST_CASE("ballast plan prints the JSON plan of a snapshot", "[plan]") {
  const auto result = run("plan --snapshot " + kFixtures + "small_cluster.json --now 2026-11-22T10:00:00Z --output json");
  REQUIRE(result.exit_code == 0);
  const auto plan = nlohmann::json::parse(result.text);
  CHECK(plan["kind"] == "NodePoolPlan");
  CHECK(plan["summary"]["nodesToAdd"] == 1);
  CHECK(plan["summary"]["nodesToRemove"] == 1);
  CHECK(plan["groups"][1]["scaleDown"]["remove"][0] == "node-3");
}

TEST_CASE("ballast plan prints a table for people", "[plan]") {
  const auto result = run("plan --snapshot=" + kFixtures + "small_cluster.json --now=2026-11-22T10:00:00Z");
  REQUIRE(result.exit_code == 0);
  CHECK(result.text.find("NODEGROUP") != std::string::npos);
  CHECK(result.text.find("ai: +1 V97") != std::string::npos);
  CHECK(result.text.find("general: remove node-3") != std::string::npos);
}

TEST_CASE("ballast plan exits 2 on bad input and names the object", "[plan]") {
  const auto malformed = run("plan --snapshot " + kFixtures + "malformed.json", true);
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.text.find("Pod ai-services/stt-0") != std::string::npos);
  CHECK(run("plan --snapshot /nonexistent/snapshot.json").exit_code == 2);
  CHECK(run("plan").exit_code == 2);
  CHECK(run("plan --snapshot " + kFixtures + "small_cluster.json --output yaml").exit_code == 2);
  CHECK(run("plan --snapshot " + kFixtures + "small_cluster.json --now yesterday").exit_code == 2);
  CHECK(run("plan --snapshot " + kFixtures + "small_cluster.json --policy /nonexistent/policy.yaml").exit_code == 2);
  CHECK(run("plan --snapshot " + kFixtures + "malformed.json --help").exit_code == 0);
}
