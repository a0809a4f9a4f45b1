#pragma once

// Plain Kubernetes value types shared by the node-pool model, predicates and planners.

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "kube/model/label_selector.h"
#include "kube/model/labels.h"
#include "kube/model/taint.h"

namespace ballast::nodepool {

// The shared Kubernetes vocabulary (src/kube/model), under the names the planners use.
using kube::Labels;
using kube::LabelSelector;
using kube::Taint;
using kube::Toleration;

// Integer resources: CPU in millicores, memory in bytes, pods as a count.
struct Resources {
  int64_t cpu_milli = 0;
  int64_t memory_bytes = 0;
  int64_t pods = 0;

  Resources& operator+=(const Resources& o) {
    cpu_milli += o.cpu_milli;
    memory_bytes += o.memory_bytes;
    pods += o.pods;
    return *this;
  }
  Resources& operator-=(const Resources& o) {
    cpu_milli -= o.cpu_milli;
    memory_bytes -= o.memory_bytes;
    pods -= o.pods;
    return *this;
  }
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend bool operator==(const Resources&, const Resources&) = default;
};

// A node selector requirement (required node affinity: core/v1 NodeSelectorRequirement).
struct SelectorRequirement {
  std::string key;
  std::string op;  // In | NotIn | Exists | DoesNotExist | Gt | Lt
  std::vector<std::string> values;
};

// One nodeSelectorTerm: requirements are ANDed; terms of a pod are ORed.
struct NodeSelectorTerm {
  std::vector<SelectorRequirement> match_expressions;
  std::vector<SelectorRequirement> match_fields;  // only metadata.name is meaningful
};

// namespace/name of a pod, for reports.
struct PodRef {
  std::string ns;
  std::string name;
  std::string str() const { return ns + "/" + name; }
  friend auto operator<=>(const PodRef&, const PodRef&) = default;
};

}  // namespace ballast::nodepool
