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

}  // namespace ballast
