#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "kube/informer.h"
#include "kube/kube_api.h"

namespace ballast::kube {

// client-go's SharedInformerFactory: one Informer per (resource, namespace, label
// selector), shared by every controller that asks for that selection, so an object is
// listed and watched once however many controllers read it. Each controller adds its own
// change handler to the informers it reads.
//
// Owned by the composition root and outlives the controllers it serves (they hold
// references into it). informer() may be called from any thread; an informer made after
// start() is started at once. stop() (or the destructor) stops and joins every informer.
class InformerFactory {
 public:
  // `defaults`: resync, watch timeout and retry backoff for every informer; its namespace
  // and selector are ignored (each informer() call names its own).
  explicit InformerFactory(KubeApi& api, Informer::Options defaults = {});
  ~InformerFactory();
  InformerFactory(const InformerFactory&) = delete;
  InformerFactory& operator=(const InformerFactory&) = delete;

  // The informer of this selection (`ns` empty: every namespace), made on first request.
  Informer& informer(const Resource& resource, const std::string& ns = "", const std::string& label_selector = "");
  // Starts every informer made so far and, from now on, each one made later. Idempotent.
  void start();
  void stop();

 private:
  // (group, version, plural, namespace, label selector)
  using Selection = std::tuple<std::string, std::string, std::string, std::string, std::string>;

  KubeApi& api_;
  const Informer::Options defaults_;
  std::mutex mutex_;  // guards the two below
  std::map<Selection, std::unique_ptr<Informer>> informers_;
  bool started_ = false;
};

}  // namespace ballast::kube
