#include "kube/resource.h"

#include <catch2/catch.hpp>

namespace {

using namespace ballast::kube;

TEST_CASE("resource paths follow the Kubernetes REST layout") {
  struct Case {
    Resource resource;
    const char* ns;
    const char* name;
    const char* subresource;
    const char* path;
  };
  const Case cases[] = {
      {pods(), "", "", "", "/api/v1/pods"},
      {pods(), "ai", "stt-0", "eviction", "/api/v1/namespaces/ai/pods/stt-0/eviction"},
      {nodes(), "ignored", "n1", "", "/api/v1/nodes/n1"},
      {deployments(), "web", "", "", "/apis/apps/v1/namespaces/web/deployments"},
      {leases(), "ballast-system", "ballast-leader", "", "/apis/coordination.k8s.io/v1/namespaces/ballast-system/leases/ballast-leader"},
      {node_groups(), "", "general", "status", "/apis/ballast.dev/v1alpha1/nodegroups/general/status"},
      {priority_classes(), "", "", "", "/apis/scheduling.k8s.io/v1/priorityclasses"},
  };
  for (const auto& c : cases) {
    CHECK(resource_path(c.resource, c.ns, c.name, c.subresource) == c.path);
  }
  CHECK(pod_disruption_budgets().api_version() == "policy/v1");
  CHECK(pods().api_version() == "v1");
}

}  // namespace
