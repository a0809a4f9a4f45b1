#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kube/controller.h"
#include "kube/informer.h"
#include "policy/tier_policy.h"

namespace ballast::guard {

// The guard's defaults: a pass 100 ms after a change, and every 30 s; a failed write is
// tried again after its backoff (ControllerOptions::retry).
inline kube::ControllerOptions default_guard_options() {
  kube::ControllerOptions options;
  options.interval = std::chrono::seconds(30);
  options.debounce = std::chrono::milliseconds(100);
  return options;
}

// The PDB guard: watches Deployments, StatefulSets, PodDisruptionBudgets, Namespaces,
// PriorityClasses, (when the CRDs are served) KEDA ScaledObjects, VerticalPodAutoscalers and
// HPAs, and the pods each policy `pdbTargets` entry selects, plans with the pure
// planners and, while it leads, writes what they ask for. Caches run on every replica so
// a new leader acts at once; leadership is checked before each write so a lost lease
// stops writes immediately. Caches, loop and leader gate: kube::Controller.
class GuardReconciler final : public kube::Controller {
 public:
  GuardReconciler(const kube::ControllerContext& context, std::shared_ptr<const policy::TierPolicy> policy,
                  kube::ControllerOptions options = default_guard_options());
  ~GuardReconciler() override;

  // One plan-and-act pass over the caches; false when a cache is not synced yet or this
  // replica does not lead. For tests and the worker.
  bool reconcile_once();

 private:
  void watch_resources() override;
  bool reconcile_pass() override { return reconcile_once(); }
  void act_on_pdbs();
  void act_on_vpas();
  // Starts the VPA and HPA watches once autoscaling.k8s.io/v1 verticalpodautoscalers is
  // served (checked at start and on every pass until then). True when they run.
  bool watch_vpas();
  // Writes one planned PDB or VPA action (Create/Update/Delete of either planner).
  template <typename Step>
  void write(const kube::Resource& resource, const Step& step);
  void act_on_priority_classes();
  void count_action(const char* action, const char* result);

  const std::shared_ptr<const policy::TierPolicy> policy_;

  kube::Informer* deployments_ = nullptr;
  kube::Informer* stateful_sets_ = nullptr;
  kube::Informer* pdbs_ = nullptr;
  kube::Informer* namespaces_ = nullptr;
  kube::Informer* priority_classes_ = nullptr;
  kube::Informer* scaled_objects_ = nullptr;  // null when keda.sh is not served
  kube::Informer* vpas_ = nullptr;            // null until the VPA CRD is served
  kube::Informer* hpas_ = nullptr;            // started with vpas_: only the VPA planner reads them
  bool vpa_absence_logged_ = false;
  // One pod watch per policy pdbTargets entry ("<ns>/<name>"), in its namespace, by its labels.
  std::vector<std::pair<std::string, kube::Informer*>> target_pods_;
};

}  // namespace ballast::guard
