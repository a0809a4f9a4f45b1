#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ballast::kube {

// core/v1 Taint: effect is NoSchedule, PreferNoSchedule or NoExecute.
struct Taint {
  std::string key;
  std::string value;
  std::string effect;

  // `key=value:effect`, or `key:effect` without a value (kubectl's spelling).
  std::string str() const;
  friend bool operator==(const Taint&, const Taint&) = default;
};

// core/v1 Toleration.
struct Toleration {
  std::string key;           // empty with operator Exists = tolerate every key
  std::string op = "Equal";  // Equal | Exists
  std::string value;
  std::string effect;        // empty = all effects

  // The API's ToleratesTaint: effect (when set) and key (when set) must match; Equal also
  // compares the value, Exists does not. Any other operator tolerates nothing.
  bool tolerates(const Taint& taint) const;
};

// Whether any of `tolerations` tolerates `taint`.
bool tolerates(const std::vector<Toleration>& tolerations, const Taint& taint);

// A taint a node carries only while it starts: node.kubernetes.io/not-ready and
// unreachable (lifted by the node lifecycle controller once the node is Ready) and
// node.cloudprovider.kubernetes.io/uninitialized (lifted by the cloud controller).
bool is_startup_taint(std::string_view key);

}  // namespace ballast::kube
