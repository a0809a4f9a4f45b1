#include "net/bearer_auth.h"

#include <boost/beast/core/string.hpp>

namespace ballast::net {
namespace {

// `expected` is never empty (token files without a token are refused at start-up).
bool same_token(std::string_view presented, std::string_view expected) {
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  }
  return diff == 0;
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !boost::beast::iequals(authorization.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  authorization.remove_prefix(kScheme.size());
  const auto first = authorization.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = authorization.find_last_not_of(" \t");
  return authorization.substr(first, last - first + 1);
}

}  // namespace

std::optional<size_t> accepted_bearer_token(std::string_view authorization, const std::vector<std::string>& tokens) {
  const std::string_view presented = bearer_token(authorization);
  std::optional<size_t> accepted;
  // No early exit: every configured token is compared.
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!presented.empty() && !tokens[i].empty() && same_token(presented, tokens[i])) accepted = i;
  }
  return accepted;
}

}  // namespace ballast::net
