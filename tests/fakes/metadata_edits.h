#pragma once

#include <string>

#include "scaler/trigger_spec.h"

namespace ballast::testing {

// A copy of trigger metadata with one key set, for table rows that vary one key.
inline scaler::Metadata with(scaler::Metadata metadata, const std::string& key, const std::string& value) {
  metadata[key] = value;
  return metadata;
}

// A copy of trigger metadata with one key removed.
inline scaler::Metadata without(scaler::Metadata metadata, const std::string& key) {
  metadata.erase(key);
  return metadata;
}

}  // namespace ballast::testing
