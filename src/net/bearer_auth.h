#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::net {

// The index in `tokens` of the token the Authorization header value `Bearer <token>` names,
// if any. Every token is compared, each in time that depends only on the presented token's
// length, so neither which token matched nor where the first differing byte is shows in the
// timing. The index lets a server keep per-token limits.
std::optional<size_t> accepted_bearer_token(std::string_view authorization, const std::vector<std::string>& tokens);

}  // namespace ballast::net
