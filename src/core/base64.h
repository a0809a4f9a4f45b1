#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace ballast {

// Standard padded base64 (RFC 4648 §4), as AdmissionReview patches and Secret data use.
std::string base64_encode(std::string_view bytes);

// Standard base64 (RFC 4648 §4, padded) as Kubernetes Secret data and kubeconfig `*-data`
// fields carry it; whitespace is ignored. kInvalidArgument for anything else.
Result<std::string> base64_decode(std::string_view text);

}  // namespace ballast
