#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/kube_api.h"
#include "kube/reconcile_loop.h"
#include "kube/report_once.h"
#include "policy/tier_policy.h"

namespace ballast::guard {

struct GuardOptions {
  bool dry_run = false;  // log and emit Events for the actions, take none
  // Changes arriving together are planned once: the worker waits this long after the
  // first change before planning.
  std::chrono::milliseconds debounce{100};
  // A plan also runs this often without changes (a failed write is retried by it).
  std::chrono::milliseconds resync{30'000};
  std::chrono::milliseconds informer_resync{5 * 60'000};
};

// The PDB guard: watches Deployments, StatefulSets, PodDisruptionBudgets, Namespaces,
// PriorityClasses, (when the CRDs are served) KEDA ScaledObjects, VerticalPodAutoscalers and
// HPAs, and the pods each policy `pdbTargets` entry selects, plans with the pure
// planners and, while `is_leader()` holds, writes what they ask for. Caches run on every
// replica so a new leader acts at once; only the leader writes, and it checks leadership
// before each write so a lost lease stops writes immediately.
//
// Owned by the composition root; start() starts the informers and the worker thread,
// stop() joins them. Every write and every plan runs on the worker thread.
class GuardReconciler {
 public:
  GuardReconciler(kube::KubeApi& api, kube::EventRecorder& events, std::shared_ptr<const policy::TierPolicy> policy,
                  std::function<bool()> is_leader, MetricsRegistry& metrics, GuardOptions options);
  ~GuardReconciler();
  GuardReconciler(const GuardReconciler&) = delete;
  GuardReconciler& operator=(const GuardReconciler&) = delete;

  void start();
  void stop();
  // Wakes the worker (e.g. on becoming leader).
  void poke() { loop_.poke(); }

  // One plan-and-act pass over the caches; false when a cache is not synced yet or this
  // replica does not lead. For tests and the worker.
  bool reconcile_once();
  // Passes completed (tests wait on it).
  uint64_t passes() const;

 private:
  void act_on_pdbs();
  void act_on_vpas();
  // Starts the VPA and HPA watches once autoscaling.k8s.io/v1 verticalpodautoscalers is
  // served (checked at start and on every pass until then). True when they run.
  bool watch_vpas();
  // Writes one planned PDB or VPA action (Create/Update/Delete of either planner).
  template <typename Step>
  void write(const kube::Resource& resource, const Step& step);
  void act_on_priority_classes();
  bool may_write() const;
  void count_action(const char* action, const char* result);

  kube::KubeApi& api_;
  kube::EventRecorder& events_;
  const std::shared_ptr<const policy::TierPolicy> policy_;
  const std::function<bool()> is_leader_;
  MetricsRegistry& metrics_;
  const GuardOptions options_;
  Logger log_;

  std::vector<std::unique_ptr<kube::Informer>> informers_;
  kube::Informer* deployments_ = nullptr;
  kube::Informer* stateful_sets_ = nullptr;
  kube::Informer* pdbs_ = nullptr;
  kube::Informer* namespaces_ = nullptr;
  kube::Informer* priority_classes_ = nullptr;
  kube::Informer* scaled_objects_ = nullptr;  // null when keda.sh is not served
  kube::Informer* vpas_ = nullptr;            // null until the VPA CRD is served
  kube::Informer* hpas_ = nullptr;            // started with vpas_: only the VPA planner reads them
  kube::Informer::Options informer_options_;
  bool vpa_absence_logged_ = false;
  // One pod watch per policy pdbTargets entry ("<ns>/<name>"), in its namespace, by its labels.
  std::vector<std::pair<std::string, kube::Informer*>> target_pods_;

  // Notes and conflicts already reported, so a steady state emits nothing. Worker only.
  kube::ReportOnce reported_{events_};

  // Last: its thread stops before the members a pass uses are destroyed.
  kube::ReconcileLoop loop_{options_.resync, options_.debounce, [this] { return reconcile_once(); }};
};

}  // namespace ballast::guard
