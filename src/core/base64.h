#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ballast {

// Standard base64 (RFC 4648 §4, padded) as Kubernetes Secret data and kubeconfig `*-data`
// fields carry it; whitespace is ignored. kInvalidArgument for anything else.
Result<std::string> base64_decode(std::string_view text);

}  // namespace ballast
