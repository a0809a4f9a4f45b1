#pragma once

#include <cstddef>
#include <string_view>

#include "core/result.h"

namespace ballast {

// The deepest nesting of arrays and objects (JSON) or sequences and mappings (YAML)
// ballast accepts from any input. Copying, comparing, diffing and printing a parsed
// document recurse once per level, so an unbounded depth lets one request (150,000 `[`
// in 300 KB) overflow a thread's stack. Kubernetes objects nest about 15 levels deep;
// 128 leaves room for any real document and keeps every walk a few kilobytes of stack.
inline constexpr size_t kMaxNestingDepth = 128;

// The error every parser returns for a document nested deeper than kMaxNestingDepth.
Error nesting_too_deep(std::string_view what);

// A linear scan of JSON text, run before the parser builds anything: kInvalidArgument
// ("<what> nests deeper than 128 levels") when `[`/`{` outside strings open more than
// kMaxNestingDepth levels at once. It does not validate the JSON (the parser does); it
// counts exactly the nesting a valid document has. O(n), no allocation, no recursion.
Status check_json_nesting(std::string_view text, std::string_view what = "JSON");

// For callers that only need "is it a usable document": the parsed JSON, or a discarded
// value (as nlohmann's non-throwing parse gives for malformed text) when the text nests
// too deep. A template so core itself does not depend on nlohmann.
template <typename Json>
Json parse_bounded_json(std::string_view text) {
  if (!check_json_nesting(text)) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace ballast
