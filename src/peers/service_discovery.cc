#include "peers/service_discovery.h"

#include "kube/informer.h"
#include "kube/resource.h"
#include "peers/peer_hub.h"

namespace ballast::peers {

ServiceDiscovery::ServiceDiscovery(kube::KubeApi& api, PeerHub& hub, ServiceDiscoveryOptions options)
    : hub_(hub), options_(std::move(options)) {
  kube::Informer::Options informer_options;
  informer_options.ns = options_.ns;
  informer_options.label_selector = "kubernetes.io/service-name=" + options_.service;
  informer_ = std::make_unique<kube::Informer>(api, kube::endpoint_slices(), std::move(informer_options),
                                               [this] { on_change(); });
}

ServiceDiscovery::~ServiceDiscovery() { stop(); }

void ServiceDiscovery::start() {
  log_.info("finding peers in the EndpointSlices of a Service", {{"service", options_.ns + "/" + options_.service}});
  informer_->start();
}

void ServiceDiscovery::stop() { informer_->stop(); }

void ServiceDiscovery::on_change() {
  // Under the lock, read and handed over in one step: a later view never loses to an older one.
  std::lock_guard lock(mutex_);
  auto peers = peers_from_endpoint_slices(informer_->objects(), options_.endpoints);
  if (reported_ && peers == last_) return;
  reported_ = true;
  last_ = peers;
  std::string listed;
  for (const auto& peer : peers) listed += (listed.empty() ? "" : ",") + peer;
  log_.info("peers from EndpointSlices", {{"service", options_.ns + "/" + options_.service},
                                          {"peers", listed}, {"count", static_cast<uint64_t>(peers.size())}});
  hub_.set_service_peers(std::move(peers));
}

}  // namespace ballast::peers
