#include "kube/controller.h"

#include <algorithm>

namespace ballast::kube {

Controller::Controller(const ControllerContext& context, const char* name, ControllerOptions options)
    : context_(context), options_(options), log_(name), thread_name_(std::string("rec-") + name) {}

Controller::~Controller() { stop(); }

Informer& Controller::watch(const Resource& resource, const std::string& ns, const std::string& label_selector) {
  Informer& informer = context_.informers.informer(resource, ns, label_selector);
  watches_.emplace_back(&informer, informer.add_handler([this] { loop_.poke(); }));
  return informer;
}

bool Controller::synced() const {
  return std::all_of(watches_.begin(), watches_.end(), [](const auto& watched) { return watched.first->synced(); });
}

void Controller::start() {
  watch_resources();
  context_.informers.start();
  loop_.start(thread_name_);
}

void Controller::stop() {
  loop_.stop();
  for (const auto& [informer, handler] : watches_) informer->remove_handler(handler);
  watches_.clear();
}

}  // namespace ballast::kube
