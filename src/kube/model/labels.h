#pragma once

#include <map>
#include <string>

namespace ballast::kube {

// A label or annotation set, ordered so that anything built from it is deterministic.
using Labels = std::map<std::string, std::string>;

}  // namespace ballast::kube
