#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ballast::net {

// True when the Authorization header value `Bearer <token>` names one of `tokens`. Every
// token is compared, each in time that depends only on the presented token's length, so
// neither which token matched nor where the first differing byte is shows in the timing.
bool bearer_accepted(std::string_view authorization, const std::vector<std::string>& tokens);

}  // namespace ballast::net
