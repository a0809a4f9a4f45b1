#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ballast {

struct HostPort {
  std::string host;  // brackets of an IPv6 literal removed
  uint16_t port = 0;
};

// "0.0.0.0:9090", "[::1]:9090", "localhost:0". The port is required (0 = any free port).
Result<HostPort> parse_host_port(std::string_view address);

// A URL as error messages and logs may show it: credentials (`user:password@`) become
// `REDACTED@` and a query string or fragment becomes `?REDACTED` (parameters may hold
// API keys). Scheme, host, port and path stay, so the message still says where.
std::string redact_url(std::string_view url);

}  // namespace ballast
