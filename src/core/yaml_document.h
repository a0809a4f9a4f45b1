#pragma once

#include <cstdint>

#include <yaml-cpp/yaml.h>

#include "core/result.h"

namespace ballast {

// The largest config or policy file ballast reads: a ConfigMap holds at most 1 MiB, and
// yaml-cpp takes tens of times a document's size in memory to parse it.
inline constexpr uintmax_t kMaxYamlFileBytes = 1 << 20;

// What yaml-cpp lets through and ballast's YAML files (config, tier policy) must not:
// - a mapping that repeats a key: yaml-cpp keeps both and lookups see only the first, so
//   an edit lower in the file would silently not apply. The error names the key and its
//   line.
// - nesting deeper than kMaxNestingDepth (yaml-cpp's own parser stops at 2,000 levels;
//   every later walk stays within our one limit).
// Call on the loaded document before reading it. Never throws.
Status check_yaml_document(const YAML::Node& root);

}  // namespace ballast
