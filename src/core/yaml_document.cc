#include "core/yaml_document.h"

#include <set>
#include <string>

#include "core/nesting.h"

namespace ballast {
namespace {

// Recursion is bounded: it stops one level past the limit.
Status check_node(const YAML::Node& node, size_t depth) {
  if (!node.IsMap() && !node.IsSequence()) return Ok{};
  if (depth > kMaxNestingDepth) return nesting_too_deep("the YAML document");
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (auto checked = check_node(item, depth + 1); !checked) return checked;
    }
    return Ok{};
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (entry.first.IsScalar() && !seen.insert(entry.first.Scalar()).second) {
      return invalid_argument("duplicate key \"" + entry.first.Scalar() + "\" (line " +
                              std::to_string(entry.first.Mark().line + 1) + ")");
    }
    if (auto checked = check_node(entry.first, depth + 1); !checked) return checked;
    if (auto checked = check_node(entry.second, depth + 1); !checked) return checked;
  }
  return Ok{};
}

}  // namespace

Status check_yaml_document(const YAML::Node& root) { return check_node(root, 1); }

}  // namespace ballast
