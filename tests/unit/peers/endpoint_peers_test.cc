#include "peers/endpoint_peers.h"

#include <catch2/catch.hpp>

namespace ballast::peers {
namespace {

using nlohmann::json;

json slice(json ports, json endpoints, const std::string& address_type = "IPv4") {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", {{"name", "ballast-peers-abcde"}, {"namespace", "ballast-system"}}},
          {"addressType", address_type},
          {"ports", std::move(ports)},
          {"endpoints", std::move(endpoints)}};
}

json endpoint(const std::string& ip, json ready = nullptr) {
  json out = {{"addresses", {ip}}};
  if (!ready.is_null()) out["conditions"] = {{"ready", ready}};
  return out;
}

const json kSessionsPort = json::array({{{"name", "sessions"}, {"port", 9091}, {"protocol", "TCP"}}});

}  // namespace

TEST_CASE("EndpointSlices become the set of peer addresses", "[peers][discovery]") {
  struct Case {
    const char* name;
    std::vector<json> slices;
    EndpointPeerOptions options;
    std::set<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"ready endpoints of every slice, deduplicated",
       {slice(kSessionsPort, {endpoint("10.0.0.1", true), endpoint("10.0.0.2", true)}),
        slice(kSessionsPort, {endpoint("10.0.0.2", true), endpoint("10.0.0.3", true)})},
       {},
       {"10.0.0.1:9091", "10.0.0.2:9091", "10.0.0.3:9091"}},
      {"an endpoint that is not ready is no peer",
       {slice(kSessionsPort, {endpoint("10.0.0.1", true), endpoint("10.0.0.2", false)})},
       {},
       {"10.0.0.1:9091"}},
      {"a missing ready condition means ready, as the API defines it",
       {slice(kSessionsPort, {endpoint("10.0.0.1")})},
       {},
       {"10.0.0.1:9091"}},
      {"this replica's own IP is left out",
       {slice(kSessionsPort, {endpoint("10.0.0.1", true), endpoint("10.0.0.2", true)})},
       {"sessions", 0, "10.0.0.2"},
       {"10.0.0.1:9091"}},
      {"each slice brings its own port (one slice per port set)",
       {slice(json::array({{{"name", "sessions"}, {"port", 41001}}}), {endpoint("127.0.0.1")}),
        slice(json::array({{{"name", "sessions"}, {"port", 41002}}}), {endpoint("127.0.0.1")})},
       {},
       {"127.0.0.1:41001", "127.0.0.1:41002"}},
      {"the port named sessions wins over the others",
       {slice(json::array({{{"name", "grpc"}, {"port", 9090}}, {{"name", "sessions"}, {"port", 9091}}}),
              {endpoint("10.0.0.1")})},
       {},
       {"10.0.0.1:9091"}},
      {"a slice's only port is used whatever its name",
       {slice(json::array({{{"port", 7000}}}), {endpoint("10.0.0.1")})},
       {},
       {"10.0.0.1:7000"}},
      {"a slice without a usable port uses this replica's sessions port",
       {slice(json::array(), {endpoint("10.0.0.1")}),
        slice(json::array({{{"name", "grpc"}, {"port", 9090}}, {{"name", "admin"}, {"port", 9102}}}),
              {endpoint("10.0.0.2")})},
       {"sessions", 9091, ""},
       {"10.0.0.1:9091", "10.0.0.2:9091"}},
      {"without any port a slice names no peer",
       {slice(json::array(), {endpoint("10.0.0.1")})},
       {},
       {}},
      {"IPv6 addresses are bracketed",
       {slice(kSessionsPort, {endpoint("fd00::1")}, "IPv6")},
       {},
       {"[fd00::1]:9091"}},
      {"FQDN addresses are dialed by name",
       {slice(kSessionsPort, {endpoint("ballast-0.ballast-peers.ballast-system.svc"), endpoint("127.0.0.1")}, "FQDN")},
       {},
       {"ballast-0.ballast-peers.ballast-system.svc:9091", "127.0.0.1:9091"}},
      {"only the first address of an endpoint is dialed (they are one pod)",
       {slice(kSessionsPort, {{{"addresses", {"10.0.0.1", "10.0.0.9"}}}})},
       {},
       {"10.0.0.1:9091"}},
      {"unexpected shapes read as no endpoint",
       {slice(kSessionsPort, nullptr), slice(kSessionsPort, {{{"addresses", json::array()}}}),
        slice(kSessionsPort, {{{"addresses", {7}}}}), json::array(),
        slice(json::array({{{"name", "sessions"}, {"port", 70000}}}), {endpoint("10.0.0.1")})},
       {},
       {}},
      {"no slices, no peers", {}, {}, {}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) { CHECK(peers_from_endpoint_slices(kube::SharedObjects(c.slices), c.options) == c.expected); }
  }
}

}  // namespace ballast::peers
