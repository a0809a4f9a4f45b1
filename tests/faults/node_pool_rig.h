#pragma once

// The node-pool reconciler on the fake apiserver with the production provider factory
// (provider settings from the NodeGroup, credentials from its Secret), for the fault
// cases that break the apiserver or a provider under it.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/node_providers.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "fakes/fake_apiserver.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "nodepool/reconciler/nodepool_reconciler.h"

namespace ballast::testing {

class NodePoolRig {
 public:
  NodePoolRig() {
    server.start();
    pool.start();
    kube::KubeConfig config;
    config.server = server.url();
    kube::KubeClient::Options options;
    options.metrics = &metrics;
    client_ = std::make_unique<kube::KubeClient>(pool, config, options);
    events_ = std::make_unique<kube::EventRecorder>(*client_, "faults");
    informers_ = std::make_unique<kube::InformerFactory>(*client_);
  }
  ~NodePoolRig() {
    reconciler.reset();
    informers_.reset();
    events_.reset();
    client_.reset();
    pool.stop();
  }
  NodePoolRig(const NodePoolRig&) = delete;
  NodePoolRig& operator=(const NodePoolRig&) = delete;

  // One group "general" of 4-CPU nodes on `provider` (the NodeGroup's spec.provider),
  // whose credentials are `credentials` (stored in the Secret the provider names).
  void add_group(nlohmann::json provider, const std::map<std::string, std::string>& credentials,
                 nlohmann::json scale_down = {{"enabled", false}}, int min_nodes = 0,
                 nlohmann::json scale_up = {{"podAgeSeconds", 0}}) {
    nlohmann::json data = nlohmann::json::object();
    for (const auto& [key, value] : credentials) data[key] = base64_encode(value);
    server.put({{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", "provider-credentials"}, {"namespace", "ballast-system"}}},
                {"data", data}});
    provider["credentialsSecret"] = {{"name", "provider-credentials"}};
    server.put({{"apiVersion", "ballast.dev/v1alpha1"},
                {"kind", "NodeGroup"},
                {"metadata", {{"name", "general"}}},
                {"spec",
                 {{"minNodes", min_nodes},
                  {"maxNodes", 3},
                  {"provider", provider},
                  {"offerings", nlohmann::json::array({{{"id", "V92"}, {"cpu", "4"}, {"memory", "8Gi"}, {"maxPods", 110}, {"monthlyPrice", 5.45}}})},
                  {"scaleUp", scale_up},
                  {"scaleDown", scale_down}}}});
  }

  // A pod owned by a ReplicaSet asking for `cpu`, on `node`; without one, a pod no node
  // can take (Unschedulable).
  void add_pod(const std::string& name, const std::string& cpu, const std::string& node = "") {
    nlohmann::json pod = make_pod("apps", name, {{"app", name}}, node);
    pod["metadata"]["ownerReferences"] = nlohmann::json::array(
        {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", "rs-uid"}, {"controller", true}}});
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu;
    if (node.empty()) {
      pod["status"]["conditions"] = nlohmann::json::array({{{"type", "PodScheduled"}, {"status", "False"},
                                                            {"reason", "Unschedulable"},
                                                            {"lastTransitionTime", "2026-01-01T00:00:00Z"}}});
    }
    server.put(pod);
  }

  // A Ready 4-CPU node of the group.
  void add_node(const std::string& name) { server.put(make_node(name, {{"ballast.dev/nodegroup", "general"}}, "4", "8Gi")); }

  void start(providers::ResilienceOptions resilience = {}) {
    nodepool::NodePoolOptions options;
    options.controller.debounce = std::chrono::milliseconds(20);
    options.controller.interval = std::chrono::milliseconds(200);
    options.controller.retry = {std::chrono::milliseconds(20), std::chrono::seconds(1)};  // failed writes: 20 ms, 40 ms ...
    providers::ProviderContext context;
    context.transport = providers::http_transport(http);
    context.clock = &clock;
    context.metrics = &metrics;
    context.resilience = resilience;
    reconciler = std::make_unique<nodepool::NodePoolReconciler>(
        kube::ControllerContext{*client_, *informers_, *events_, [] { return true; }, clock, metrics},
        app::provider_factory(*client_, "ballast-system", context), options);
    reconciler->start();
  }

  std::vector<nlohmann::json> in_flight() const {
    const auto group = server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
    if (!group || !group->contains("status")) return {};
    return (*group)["status"].value("inFlight", nlohmann::json::array()).get<std::vector<nlohmann::json>>();
  }

  // Waits for `count` more completed passes.
  bool wait_passes(uint64_t count) {
    const uint64_t target = reconciler->passes() + count;
    return FakeApiServer::wait_for([&] { return reconciler->passes() >= target; }, std::chrono::seconds(10));
  }

  FakeApiServer server;
  net::IoPool pool{1};
  net::HttpClient http{pool};
  SteadyClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<nodepool::NodePoolReconciler> reconciler;

 private:
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<kube::EventRecorder> events_;
  std::unique_ptr<kube::InformerFactory> informers_;
};

}  // namespace ballast::testing
