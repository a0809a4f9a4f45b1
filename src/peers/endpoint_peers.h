#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/model/shared_objects.h"

namespace ballast::peers {

// How to read the peers Service's EndpointSlices.
struct EndpointPeerOptions {
  std::string port_name = "sessions";  // the Service port that carries the sessions listener
  uint16_t default_port = 0;           // this replica's sessions port: for a slice with no usable port
  std::string self_ip;                 // this pod's IP ($POD_IP); empty = found at the handshake instead
};

// The peer addresses (host:port) that the EndpointSlices of ballast's peers Service name:
// the first address of every ready endpoint (a missing `ready` condition means ready, as
// the API defines it), with the slice's port named `port_name`, else its only port, else
// `default_port`. IPv6 addresses come bracketed. This replica's own IP is left out; a
// replica that cannot know its IP finds itself when it dials itself (409). Pure: slices as
// the apiserver returns them; an unexpected shape reads as no endpoint.
std::set<std::string> peers_from_endpoint_slices(const kube::SharedObjects& slices,
                                                 const EndpointPeerOptions& options);

}  // namespace ballast::peers
