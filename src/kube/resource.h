#pragma once

#include <string>
#include <string_view>

namespace ballast::kube {

// A Kubernetes API resource: enough to build its REST paths and name its objects.
struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1", "v1alpha1"
  std::string plural;   // "deployments"
  std::string kind;     // "Deployment"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

// The resources ballast reads or writes.
Resource pods();
Resource nodes();
Resource namespaces();
Resource events();
Resource secrets();
Resource deployments();
Resource statefulsets();
Resource daemonsets();
Resource replicasets();
Resource pod_disruption_budgets();
Resource leases();
Resource priority_classes();
Resource scaled_objects();
Resource vertical_pod_autoscalers();     // autoscaling.k8s.io/v1: a CRD, may be absent
Resource horizontal_pod_autoscalers();   // autoscaling/v2
Resource node_groups();
Resource persistent_volumes();
Resource persistent_volume_claims();
Resource endpoint_slices();

// `/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]`, or `/apis/GROUP/VERSION/...`.
// An empty `ns` on a namespaced resource addresses every namespace (list and watch).
std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});

}  // namespace ballast::kube
