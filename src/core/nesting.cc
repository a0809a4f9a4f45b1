#include "core/nesting.h"

#include <string>

namespace ballast {

Error nesting_too_deep(std::string_view what) {
  return invalid_argument(std::string(what) + " nests deeper than " + std::to_string(kMaxNestingDepth) +
                          " levels (the limit)");
}

Status check_json_nesting(std::string_view text, std::string_view what) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxNestingDepth) return nesting_too_deep(what);
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to refuse; never wrap below zero.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return Ok{};
}

}  // namespace ballast
