#include "core/net_address.h"

#include <charconv>

namespace ballast {

Result<HostPort> parse_host_port(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid_argument("address \"" + std::string(address) + "\" must be host:port");
  }
  HostPort out;
  std::string_view host = address.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out.host = std::string(host);
  const std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || port.empty()) {
    return invalid_argument("address \"" + std::string(address) + "\" has an invalid port");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string redact_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::string out(url.substr(0, authority_start));
  std::string_view rest = url.substr(authority_start);
  // The last '@' anywhere: a password may hold '/', '?' or '#' unescaped, so nothing
  // before it can be trusted to be the host. Over-redacting a path with '@' is harmless.
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    out += "REDACTED";
    rest = rest.substr(at);
  }
  const size_t query = rest.find_first_of("?#");
  out += rest.substr(0, query);
  if (query != std::string_view::npos) out += "?REDACTED";
  return out;
}

}  // namespace ballast
