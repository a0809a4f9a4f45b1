#include "kube/model/shared_objects.h"

#include <algorithm>
#include <iterator>

namespace ballast::kube {

nlohmann::json expanded(const nlohmann::json& cached) {
  if (!cached.is_string()) return cached;
  // The informer wrote this text from a parsed object (core/nesting.h's depth limit held).
  auto parsed = nlohmann::json::parse(cached.get_ref<const std::string&>(), nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

std::vector<nlohmann::json> SharedObjects::copies() const {
  std::vector<nlohmann::json> out;
  out.reserve(refs_.size());
  std::transform(begin(), end(), std::back_inserter(out), expanded);
  return out;
}

}  // namespace ballast::kube
