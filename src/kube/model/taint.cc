#include "kube/model/taint.h"

#include <algorithm>

namespace ballast::kube {

std::string Taint::str() const { return key + (value.empty() ? "" : "=" + value) + ":" + effect; }

bool Toleration::tolerates(const Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (op == "Exists") return true;
  if (op == "Equal" || op.empty()) return value == taint.value;
  return false;
}

bool tolerates(const std::vector<Toleration>& tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(),
                     [&](const Toleration& toleration) { return toleration.tolerates(taint); });
}

bool is_startup_taint(std::string_view key) {
  return key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable" ||
         key == "node.cloudprovider.kubernetes.io/uninitialized";
}

}  // namespace ballast::kube
