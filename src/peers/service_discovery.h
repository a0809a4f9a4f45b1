#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/log.h"
#include "peers/endpoint_peers.h"

namespace ballast::kube {
class Informer;
class KubeApi;
}  // namespace ballast::kube

namespace ballast::peers {

class PeerHub;

struct ServiceDiscoveryOptions {
  std::string ns;       // the peers Service's namespace
  std::string service;  // its name: slices labelled kubernetes.io/service-name=<service>
  EndpointPeerOptions endpoints;
};

// Finds the peer replicas the way KEDA's http-add-on finds its interceptors: it watches
// the EndpointSlices of ballast's headless peers Service and hands the PeerHub the ready
// endpoints each time a slice changes (an endpoint added is dialed at once, one removed
// stops counting at once).
//
// Owned by the composition root: built and started after the PeerHub has started, stopped
// before it. The informer's thread (and the watch's I/O thread) call the hub.
class ServiceDiscovery {
 public:
  ServiceDiscovery(kube::KubeApi& api, PeerHub& hub, ServiceDiscoveryOptions options);
  ~ServiceDiscovery();
  ServiceDiscovery(const ServiceDiscovery&) = delete;
  ServiceDiscovery& operator=(const ServiceDiscovery&) = delete;

  void start();
  void stop();

 private:
  void on_change();

  PeerHub& hub_;
  const ServiceDiscoveryOptions options_;
  Logger log_{"peers"};
  std::unique_ptr<kube::Informer> informer_;
  std::mutex mutex_;  // serializes on_change: the informer's and the watch's threads both call it
  std::set<std::string> last_;
  bool reported_ = false;
};

}  // namespace ballast::peers
