#include "peers/endpoint_peers.h"

#include "kube/model/json_lookup.h"

namespace ballast::peers {
namespace {

using nlohmann::json;

// The slice's sessions port: the one named so, else its only port, else none (0).
uint16_t slice_port(const json& slice, const std::string& port_name) {
  const json* ports = kube::child(slice, "ports");
  if (ports == nullptr || !ports->is_array()) return 0;
  const json* only = ports->size() == 1 ? &(*ports)[0] : nullptr;
  for (const auto& port : *ports) {
    if (kube::string_at(port, {"name"}) == port_name) only = &port;
  }
  const json* number = only == nullptr ? nullptr : kube::child(*only, "port");
  if (number == nullptr || !number->is_number_integer()) return 0;
  const auto value = number->get<int64_t>();
  return value > 0 && value <= 65535 ? static_cast<uint16_t>(value) : 0;
}

bool is_ready(const json& endpoint) {
  const json* ready = kube::path(endpoint, {"conditions", "ready"});
  return ready == nullptr || !ready->is_boolean() || ready->get<bool>();
}

}  // namespace

std::set<std::string> peers_from_endpoint_slices(const kube::SharedObjects& slices, const EndpointPeerOptions& options) {
  std::set<std::string> peers;
  for (const auto& slice : slices) {
    uint16_t port = slice_port(slice, options.port_name);
    if (port == 0) port = options.default_port;
    const json* endpoints = kube::child(slice, "endpoints");
    if (port == 0 || endpoints == nullptr || !endpoints->is_array()) continue;
    const bool ipv6 = kube::string_at(slice, {"addressType"}) == "IPv6";
    for (const auto& endpoint : *endpoints) {
      const json* addresses = kube::child(endpoint, "addresses");
      if (!is_ready(endpoint) || addresses == nullptr || !addresses->is_array() || addresses->empty() ||
          !(*addresses)[0].is_string()) {
        continue;
      }
      // The addresses of one endpoint are one pod: the API lets consumers use the first.
      const std::string address = (*addresses)[0].get<std::string>();
      if (address.empty() || address == options.self_ip) continue;
      peers.insert((ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port));
    }
  }
  return peers;
}

}  // namespace ballast::peers
