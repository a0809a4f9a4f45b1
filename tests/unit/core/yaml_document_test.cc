#include "core/yaml_document.h"

#include <string>

#include <catch2/catch.hpp>

#include "core/nesting.h"

using namespace ballast;

namespace {

// `depth` block mappings, one inside the other.
std::string block_nesting(size_t depth) {
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += std::string(i * 2, ' ') + "k:\n";
  return out + std::string(depth * 2, ' ') + "leaf\n";
}

}  // namespace

TEST_CASE("repeated keys and too deep documents are refused, naming the key or the limit", "[yaml]") {
  struct Row {
    std::string text;
    const char* error;  // nullptr: accepted
  };
  const Row rows[] = {
      {"a: 1\nb: 2\n", nullptr},
      {"a: 1\nb: 2\na: 3\n", "duplicate key \"a\" (line 3)"},
      {"tiers:\n  critical: {minAvailable: 1}\n  critical: {minAvailable: 2}\n", "duplicate key \"critical\""},
      {"list:\n  - {x: 1, x: 2}\n", "duplicate key \"x\""},
      {"a: {x: 1}\nb: {x: 1}\n", nullptr},  // equal keys in different mappings are fine
      {block_nesting(kMaxNestingDepth - 1), nullptr},
      {block_nesting(kMaxNestingDepth + 1), "deeper than 128 levels"},
      {std::string(200, '[') + std::string(200, ']'), "deeper than 128 levels"},
  };
  for (const auto& row : rows) {
    INFO(row.text.substr(0, 120));
    const auto checked = check_yaml_document(YAML::Load(row.text));
    if (row.error == nullptr) {
      CHECK(checked.ok());
    } else {
      REQUIRE_FALSE(checked.ok());
      CHECK(checked.error().code == ErrorCode::kInvalidArgument);
      CHECK_THAT(checked.error().message, Catch::Contains(row.error));
    }
  }
}

TEST_CASE("yaml-cpp's own depth guard turns 150,000 nested brackets into an exception, not a crash", "[yaml]") {
  // The guard the loaders rely on before check_yaml_document runs; they catch it.
  CHECK_THROWS_AS(YAML::Load(std::string(150'000, '[') + std::string(150'000, ']')), YAML::Exception);
}
