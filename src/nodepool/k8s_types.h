#pragma once

// Plain Kubernetes value types shared by the node-pool model, predicates and planners.

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ballast::nodepool {

using Labels = std::map<std::string, std::string>;

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

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule | PreferNoSchedule | NoExecute
  friend bool operator==(const Taint&, const Taint&) = default;
};

struct Toleration {
  std::string key;       // empty with operator Exists = tolerate everything
  std::string op = "Equal";  // Equal | Exists
  std::string value;
  std::string effect;    // empty = all effects
};

// A node selector requirement (required node affinity) or a label selector requirement.
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

// metav1.LabelSelector. `null_selector` (absent selector) selects nothing; an empty
// selector selects everything (policy/v1 PDB semantics).
struct LabelSelector {
  bool null_selector = true;
  Labels match_labels;
  std::vector<SelectorRequirement> match_expressions;
};

// namespace/name of a pod, for reports.
struct PodRef {
  std::string ns;
  std::string name;
  std::string str() const { return ns + "/" + name; }
  friend auto operator<=>(const PodRef&, const PodRef&) = default;
};

}  // namespace ballast::nodepool
