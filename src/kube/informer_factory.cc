#include "kube/informer_factory.h"

namespace ballast::kube {

InformerFactory::InformerFactory(KubeApi& api, Informer::Options defaults)
    : api_(api), defaults_(std::move(defaults)) {}

InformerFactory::~InformerFactory() { stop(); }

Informer& InformerFactory::informer(const Resource& resource, const std::string& ns,
                                    const std::string& label_selector) {
  std::lock_guard lock(mutex_);
  auto& slot = informers_[{resource.group, resource.version, resource.plural, ns, label_selector}];
  if (!slot) {
    Informer::Options options = defaults_;
    options.ns = ns;
    options.label_selector = label_selector;
    slot = std::make_unique<Informer>(api_, resource, std::move(options));
    if (started_) slot->start();
  }
  return *slot;
}

void InformerFactory::start() {
  std::lock_guard lock(mutex_);
  started_ = true;
  for (auto& [selection, informer] : informers_) informer->start();  // a running one ignores it
}

void InformerFactory::stop() {
  std::lock_guard lock(mutex_);
  started_ = false;
  for (auto& [selection, informer] : informers_) informer->stop();
}

}  // namespace ballast::kube
