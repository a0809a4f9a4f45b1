#include "core/nesting.h"

#include <string>

#include <catch2/catch.hpp>

using namespace ballast;

namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

}  // namespace

TEST_CASE("json nesting is counted outside strings and refused past the limit", "[nesting]") {
  struct Row {
    std::string text;
    bool accepted;
  };
  const Row rows[] = {
      {"{}", true},
      {R"({"a": [1, {"b": [2]}]})", true},
      {nested(kMaxNestingDepth), true},
      {nested(kMaxNestingDepth + 1), false},
      {nested(kMaxNestingDepth + 1, '{', '}'), false},
      {nested(150'000), false},
      // Brackets inside strings, also after escaped quotes and backslashes, are text.
      {R"(")" + std::string(1000, '[') + R"(")", true},
      {R"(["\"[[[[", "\\", ")" + std::string(1000, '{') + R"("])", true},
      // Closers before openers do not bank depth for later.
      {std::string(1000, ']') + nested(kMaxNestingDepth + 1), false},
      // Siblings do not add up: depth is what is open at once.
      {nested(100) + nested(100), true},
  };
  for (const auto& row : rows) {
    INFO(row.text.substr(0, 80));
    const auto checked = check_json_nesting(row.text);
    CHECK(checked.ok() == row.accepted);
    if (!checked.ok()) {
      CHECK(checked.error().code == ErrorCode::kInvalidArgument);
      CHECK_THAT(checked.error().message, Catch::Contains("128"));
    }
  }
}
