#pragma once

// Builders for Kubernetes objects as `kubectl get -o json` prints them, for the node-pool
// tests. Each returns JSON so the tests also exercise the parsers.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodepool/cluster_model.h"

namespace ballast::nodepool::testing {

using json = nlohmann::json;

inline constexpr const char* kNow = "2026-11-22T10:00:00Z";
inline constexpr const char* kLongAgo = "2026-11-22T08:00:00Z";

inline TimePoint at(const char* text) { return *parse_time(text); }

inline json node(const std::string& name, const std::string& group, const std::string& cpu = "4",
                 const std::string& memory = "8Gi", int pods = 110) {
  json n{{"apiVersion", "v1"},
         {"kind", "Node"},
         {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}},
                       {"creationTimestamp", kLongAgo}}},
         {"spec", json::object()},
         {"status",
          {{"allocatable", {{"cpu", cpu}, {"memory", memory}, {"pods", std::to_string(pods)}}},
           {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  if (!group.empty()) n["metadata"]["labels"]["ballast.dev/nodegroup"] = group;
  return n;
}

// A running pod owned by a ReplicaSet (movable) on `node_name`.
inline json pod(const std::string& ns, const std::string& name, const std::string& node_name,
                const std::string& cpu, const std::string& memory) {
  json p{{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata",
          {{"name", name},
           {"namespace", ns},
           {"labels", {{"app", name}}},
           {"ownerReferences",
            {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", name + "-rs"}, {"controller", true}}}}}},
         {"spec",
          {{"containers", {{{"name", "main"}, {"resources", {{"requests", {{"cpu", cpu}, {"memory", memory}}}}}}}}}},
         {"status", {{"phase", "Running"}}}};
  if (!node_name.empty()) p["spec"]["nodeName"] = node_name;
  return p;
}

// A pod the scheduler marked Unschedulable at `since`.
inline json pending_pod(const std::string& ns, const std::string& name, const std::string& cpu,
                        const std::string& memory, const char* since = kLongAgo) {
  json p = pod(ns, name, "", cpu, memory);
  p["status"] = {{"phase", "Pending"},
                 {"conditions",
                  {{{"type", "PodScheduled"},
                    {"status", "False"},
                    {"reason", "Unschedulable"},
                    {"lastTransitionTime", since}}}}};
  return p;
}

inline json pdb(const std::string& ns, const std::string& name, const json& match_labels, int allowed) {
  return {{"apiVersion", "policy/v1"},
          {"kind", "PodDisruptionBudget"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", match_labels}}}}},
          {"status", {{"disruptionsAllowed", allowed}}}};
}

inline json node_group(const std::string& name, int min_nodes, int max_nodes,
                       const std::string& offering_cpu = "4", const std::string& offering_memory = "8Gi") {
  return {{"apiVersion", "ballast.dev/v1alpha1"},
          {"kind", "NodeGroup"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"minNodes", min_nodes},
            {"maxNodes", max_nodes},
            {"offerings",
             {{{"id", "V92"}, {"cpu", offering_cpu}, {"memory", offering_memory}, {"maxPods", 110},
               {"monthlyPrice", 5.45}}}},
            {"labels", {{"workload-type", "general"}}}}}};
}

// A Node whose Ready condition is `status` ("False" or "Unknown") since `since`.
inline json unready(json node, const std::string& status = "False", const char* since = kLongAgo) {
  node["status"]["conditions"] = {{{"type", "Ready"}, {"status", status}, {"lastTransitionTime", since}}};
  return node;
}

// Gives `pod` a volume `volume` backed by the PersistentVolumeClaim `claim`.
inline json with_claim(json pod, const std::string& volume, const std::string& claim) {
  pod["spec"]["volumes"].push_back({{"name", volume}, {"persistentVolumeClaim", {{"claimName", claim}}}});
  return pod;
}

inline json pvc(const std::string& ns, const std::string& name, const std::string& volume) {
  json c{{"apiVersion", "v1"},
         {"kind", "PersistentVolumeClaim"},
         {"metadata", {{"name", name}, {"namespace", ns}}},
         {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", "local-path"}}},
         {"status", {{"phase", volume.empty() ? "Pending" : "Bound"}}}};
  if (!volume.empty()) c["spec"]["volumeName"] = volume;
  return c;
}

// A PersistentVolume bound to ns/claim. `key In values` is its required node affinity
// (none when `key` is empty): local-path's is `kubernetes.io/hostname In [<node>]`.
inline json pv(const std::string& name, const std::string& ns, const std::string& claim, const std::string& key = "",
               const std::vector<std::string>& values = {}) {
  json v{{"apiVersion", "v1"},
         {"kind", "PersistentVolume"},
         {"metadata", {{"name", name}}},
         {"spec",
          {{"capacity", {{"storage", "1Gi"}}},
           {"claimRef", {{"kind", "PersistentVolumeClaim"}, {"namespace", ns}, {"name", claim}}}}}};
  if (key.empty()) {
    v["spec"]["csi"] = {{"driver", "nfs.csi.k8s.io"}, {"volumeHandle", name}};
  } else {
    v["spec"]["hostPath"] = {{"path", "/var/lib/rancher/k3s/storage/" + name}, {"type", "DirectoryOrCreate"}};
    v["spec"]["nodeAffinity"] = {
        {"required", {{"nodeSelectorTerms", {{{"matchExpressions", {{{"key", key}, {"operator", "In"}, {"values", values}}}}}}}}}};
  }
  return v;
}

// Adds a required pod (anti-)affinity term (`kind`: podAffinity or podAntiAffinity) over
// pods labelled app=`app` in the `key` domain.
inline json with_pod_affinity(json pod, const std::string& kind, const std::string& app,
                              const std::string& key = "kubernetes.io/hostname") {
  pod["spec"]["affinity"][kind]["requiredDuringSchedulingIgnoredDuringExecution"].push_back(
      {{"labelSelector", {{"matchLabels", {{"app", app}}}}}, {"topologyKey", key}});
  return pod;
}

// Adds a DoNotSchedule topology spread constraint over pods labelled app=`app`.
inline json with_spread(json pod, const std::string& app, const std::string& key = "kubernetes.io/hostname",
                        int max_skew = 1) {
  pod["spec"]["topologySpreadConstraints"].push_back({{"maxSkew", max_skew},
                                                      {"topologyKey", key},
                                                      {"whenUnsatisfiable", "DoNotSchedule"},
                                                      {"labelSelector", {{"matchLabels", {{"app", app}}}}}});
  return pod;
}

inline json labelled(json object, const std::string& key, const std::string& value) {
  object["metadata"]["labels"][key] = value;
  return object;
}

inline ClusterSnapshot snapshot(const std::vector<json>& objects) {
  auto parsed = parse_objects(kube::SharedObjects(objects));
  if (!parsed) throw std::runtime_error(parsed.error().message);
  return std::move(*parsed);
}

}  // namespace ballast::nodepool::testing
