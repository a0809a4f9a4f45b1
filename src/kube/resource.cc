#include "kube/resource.h"

namespace ballast::kube {

Resource pods() { return {"", "v1", "pods", "Pod", true}; }
Resource nodes() { return {"", "v1", "nodes", "Node", false}; }
Resource namespaces() { return {"", "v1", "namespaces", "Namespace", false}; }
Resource events() { return {"", "v1", "events", "Event", true}; }
Resource secrets() { return {"", "v1", "secrets", "Secret", true}; }
Resource deployments() { return {"apps", "v1", "deployments", "Deployment", true}; }
Resource statefulsets() { return {"apps", "v1", "statefulsets", "StatefulSet", true}; }
Resource daemonsets() { return {"apps", "v1", "daemonsets", "DaemonSet", true}; }
Resource replicasets() { return {"apps", "v1", "replicasets", "ReplicaSet", true}; }
Resource pod_disruption_budgets() { return {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true}; }
Resource leases() { return {"coordination.k8s.io", "v1", "leases", "Lease", true}; }
Resource priority_classes() { return {"scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false}; }
Resource scaled_objects() { return {"keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", true}; }
Resource vertical_pod_autoscalers() {
  return {"autoscaling.k8s.io", "v1", "verticalpodautoscalers", "VerticalPodAutoscaler", true};
}
Resource horizontal_pod_autoscalers() {
  return {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true};
}
Resource node_groups() { return {"ballast.dev", "v1alpha1", "nodegroups", "NodeGroup", false}; }
Resource persistent_volumes() { return {"", "v1", "persistentvolumes", "PersistentVolume", false}; }
Resource persistent_volume_claims() { return {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true}; }
Resource endpoint_slices() { return {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true}; }

std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string path = resource.group.empty() ? "/api/" + resource.version
                                            : "/apis/" + resource.group + "/" + resource.version;
  if (resource.namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/" + resource.plural;
  if (!name.empty()) {
    path += "/";
    path += name;
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

}  // namespace ballast::kube
