#include "guard/reconciler/guard_reconciler.h"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "guard/pdb_planner.h"
#include "guard/priority_class_planner.h"
#include "guard/vpa_planner.h"
#include "kube/model/object_meta.h"

namespace ballast::guard {
namespace {

using nlohmann::json;

// The object an Event about a PDB or VPA action is attached to: the owning workload when
// the object names one (that is where users look), else the object itself.
json event_subject(const kube::Resource& resource, const json& object, const std::string& ns, const std::string& name) {
  if (const auto owners = kube::owner_references(object); !owners.empty()) {
    const kube::OwnerReference& owner = owners.front();
    return {{"apiVersion", owner.api_version.empty() ? "apps/v1" : owner.api_version},
            {"kind", owner.kind},
            {"metadata", {{"name", owner.name}, {"namespace", ns}, {"uid", owner.uid}}}};
  }
  return {{"apiVersion", resource.api_version()}, {"kind", resource.kind}, {"metadata", {{"name", name}, {"namespace", ns}}}};
}

const char* note_reason(PdbNote::Reason reason) {
  switch (reason) {
    case PdbNote::Reason::kOptedOut: return "PdbOptedOut";
    case PdbNote::Reason::kTierHasNoPdb: return "PdbNotNeeded";
    case PdbNote::Reason::kForeignPdbOverlap: return "PdbOverlap";
    case PdbNote::Reason::kBallastPdbOverlap: return "PdbOverlap";
    case PdbNote::Reason::kNoSelector: return "PdbNoSelector";
    case PdbNote::Reason::kNameTaken: return "PdbNameTaken";
    case PdbNote::Reason::kInvalidObject: return "PdbInvalidObject";
    case PdbNote::Reason::kUnknownTier: return "UnknownTier";
  }
  return "PdbNote";
}

// Notes that mean something may be wrong; the others are informational.
bool note_is_warning(PdbNote::Reason reason) {
  return reason != PdbNote::Reason::kOptedOut && reason != PdbNote::Reason::kTierHasNoPdb;
}

const char* note_reason(VpaNote::Reason reason) {
  switch (reason) {
    case VpaNote::Reason::kOptedOut: return "VpaOptedOut";
    case VpaNote::Reason::kResourceScaled: return "VpaResourceScaled";
    case VpaNote::Reason::kForeignVpa: return "VpaForeign";
    case VpaNote::Reason::kNameTaken: return "VpaNameTaken";
    case VpaNote::Reason::kInvalidObject: return "VpaInvalidObject";
  }
  return "VpaNote";
}

// The body and naming of each planner action, so one writer serves both planners.
const json& body_of(const CreatePdb& step) { return step.pdb; }
const json& body_of(const UpdatePdb& step) { return step.pdb; }
const json& body_of(const CreateVpa& step) { return step.vpa; }
const json& body_of(const UpdateVpa& step) { return step.vpa; }
json body_of(const DeletePdb&) { return json::object(); }
json body_of(const DeleteVpa&) { return json::object(); }

template <typename Step>
constexpr bool kIsCreate = std::is_same_v<Step, CreatePdb> || std::is_same_v<Step, CreateVpa>;
template <typename Step>
constexpr bool kIsUpdate = std::is_same_v<Step, UpdatePdb> || std::is_same_v<Step, UpdateVpa>;
template <typename Step>
constexpr bool kIsVpa =
    std::is_same_v<Step, CreateVpa> || std::is_same_v<Step, UpdateVpa> || std::is_same_v<Step, DeleteVpa>;

}  // namespace

GuardReconciler::GuardReconciler(const kube::ControllerContext& context,
                                 std::shared_ptr<const policy::TierPolicy> policy, kube::ControllerOptions options)
    : Controller(context, "guard", options), policy_(std::move(policy)) {}

GuardReconciler::~GuardReconciler() { stop(); }

void GuardReconciler::watch_resources() {
  deployments_ = &watch(kube::deployments());
  stateful_sets_ = &watch(kube::statefulsets());
  pdbs_ = &watch(kube::pod_disruption_budgets());
  namespaces_ = &watch(kube::namespaces());
  priority_classes_ = &watch(kube::priority_classes());
  auto keda = api().serves(kube::scaled_objects());
  if (keda && *keda) {
    scaled_objects_ = &watch(kube::scaled_objects());
  } else {
    log().info("KEDA ScaledObjects are not served: PDBs follow replica counts only",
               {{"detail", keda ? std::string("keda.sh/v1alpha1 scaledobjects not found") : keda.error().message}});
  }
  for (const auto& target : policy_->pdb_targets) {
    std::string selector;
    for (const auto& [key, value] : target.match_labels) selector += (selector.empty() ? "" : ",") + key + "=" + value;
    target_pods_.emplace_back(target.ns + "/" + target.name, &watch(kube::pods(), target.ns, selector));
  }
  watch_vpas();
}

void GuardReconciler::count_action(const char* action, const char* result) {
  metrics().counter("ballast_guard_actions_total", "Writes the PDB guard made (or would make in dry-run), by result",
                    {{"action", action}, {"result", result}})
      .increment();
}

bool GuardReconciler::reconcile_once() {
  if (!synced() || !leads()) return false;
  const auto started = clock().now();
  act_on_priority_classes();
  act_on_pdbs();
  if (watch_vpas() && vpas_->synced() && hpas_->synced()) act_on_vpas();
  metrics().gauge("ballast_guard_last_pass_seconds", "Duration of the PDB guard's last plan-and-act pass")
      .set(std::chrono::duration<double>(clock().now() - started).count());
  return true;
}

bool GuardReconciler::watch_vpas() {
  if (vpas_ != nullptr) return true;
  const bool any_vpa = std::any_of(policy_->tiers.begin(), policy_->tiers.end(),
                                   [](const auto& entry) { return entry.second.vpa.has_value(); });
  if (!any_vpa) return false;
  auto served = api().serves(kube::vertical_pod_autoscalers());
  if (!served || !*served) {
    if (!vpa_absence_logged_) {
      log().info("VerticalPodAutoscalers are not served: no VPAs from the tier policy until the CRD is installed",
                {{"detail", served ? std::string("autoscaling.k8s.io/v1 verticalpodautoscalers not found")
                                   : served.error().message}});
      vpa_absence_logged_ = true;
    }
    return false;
  }
  vpas_ = &watch(kube::vertical_pod_autoscalers());
  hpas_ = &watch(kube::horizontal_pod_autoscalers());
  log().info("VerticalPodAutoscalers are served: the guard maintains them from the tier policy");
  return true;
}

void GuardReconciler::act_on_priority_classes() {
  const auto plan = plan_priority_classes(*policy_, priority_classes_->objects().copies());
  for (const auto& conflict : plan.conflicts) {
    const json subject = {{"apiVersion", "scheduling.k8s.io/v1"},
                          {"kind", "PriorityClass"},
                          {"metadata", {{"name", conflict.name}}}};
    const std::string have = conflict.have_value ? std::to_string(*conflict.have_value) : "none";
    if (!reported().reported("pc-conflict|" + conflict.name + "|" + have)) {
      log().warn("PriorityClass differs from the policy; left unchanged",
                {{"priorityClass", conflict.name}, {"want", conflict.want_value}, {"have", have}});
    }
    reported().report("pc-conflict|" + conflict.name + "|" + have, subject, true, "PriorityClassConflict",
                     conflict.message);
  }
  for (const auto& create : plan.creates) {
    const std::string name = kube::name(create.priority_class);
    if (dry_run()) {
      log().info("dry-run: would create PriorityClass", {{"priorityClass", name}});
      reported().report("dry-pc|" + name, create.priority_class, false, "DryRunCreate",
                       "ballast would create PriorityClass " + name + " (dry-run)");
      count_action("create_priority_class", "dry_run");
      continue;
    }
    if (!may_write()) return;
    const std::string retry_key = "priorityclass|" + name;
    if (!may_retry(retry_key)) continue;  // said when it failed; the pass runs again when it is due
    auto created = api().create(kube::priority_classes(), "", create.priority_class);
    if (!created) {
      // Already there: the watch brings it (and a pass) meanwhile.
      const bool stale = created.error().code == ErrorCode::kAlreadyExists;
      const auto wait = retry_later(retry_key);
      if (!stale) {
        log().warn("cannot create PriorityClass", {{"priorityClass", name}, {"error", created.error().message},
                                                   {"retryInMs", wait}});
      }
      count_action("create_priority_class", stale ? "conflict" : "error");
      continue;
    }
    succeeded(retry_key);
    count_action("create_priority_class", "ok");
    log().info("created PriorityClass", {{"priorityClass", name}, {"note", create.note}});
    events().normal(*created, "PriorityClassCreated", "created from the tier policy" +
                                                         (create.note.empty() ? "" : ": " + create.note));
  }
}

void GuardReconciler::act_on_pdbs() {
  PdbPlannerInput input;
  input.deployments = deployments_->objects().copies();
  input.stateful_sets = stateful_sets_->objects().copies();
  input.pdbs = pdbs_->objects().copies();
  input.namespaces = namespaces_->objects().copies();
  if (scaled_objects_ != nullptr) input.scaled_objects = scaled_objects_->objects().copies();
  for (const auto& [key, informer] : target_pods_) input.target_pods[key] = informer->objects().copies();
  const PdbPlan plan = plan_pdbs(*policy_, input);
  log().debug("planned PDBs", {{"deployments", input.deployments.size()}, {"statefulSets", input.stateful_sets.size()},
                              {"pdbs", input.pdbs.size()}, {"actions", plan.actions.size()},
                              {"notes", plan.notes.size()}});

  for (const auto& note : plan.notes) {
    const json workload = {{"apiVersion", note.kind == "PodDisruptionBudget" ? "policy/v1" : "apps/v1"},
                           {"kind", note.kind},
                           {"metadata", {{"name", note.name}, {"namespace", note.ns}}}};
    reported().report("note|" + note.ns + "/" + note.kind + "/" + note.name + "|" + note.message, workload,
                     note_is_warning(note.reason), note_reason(note.reason), note.message);
  }

  for (const auto& action : plan.actions) {
    if (!dry_run() && !may_write()) return;  // leadership lost mid-pass: stop writing at once
    std::visit([this](const auto& step) { write(kube::pod_disruption_budgets(), step); }, action);
  }
}

void GuardReconciler::act_on_vpas() {
  VpaPlannerInput input;
  input.deployments = deployments_->objects().copies();
  input.stateful_sets = stateful_sets_->objects().copies();
  input.vpas = vpas_->objects().copies();
  input.hpas = hpas_->objects().copies();
  if (scaled_objects_ != nullptr) input.scaled_objects = scaled_objects_->objects().copies();
  const VpaPlan plan = plan_vpas(*policy_, input);
  for (const auto& note : plan.notes) {
    const json workload = {{"apiVersion", "apps/v1"},
                           {"kind", note.kind},
                           {"metadata", {{"name", note.name}, {"namespace", note.ns}}}};
    // Informational: opting out, yielding to another VPA or to a resource autoscaler is by design.
    reported().report("vpa-note|" + note.ns + "/" + note.kind + "/" + note.name + "|" + note.message, workload,
                     note.reason == VpaNote::Reason::kNameTaken || note.reason == VpaNote::Reason::kInvalidObject,
                     note_reason(note.reason), note.message);
  }
  for (const auto& action : plan.actions) {
    if (!dry_run() && !may_write()) return;
    std::visit([this](const auto& step) { write(kube::vertical_pod_autoscalers(), step); }, action);
  }
}

template <typename Step>
void GuardReconciler::write(const kube::Resource& resource, const Step& step) {
  const char* noun = kIsVpa<Step> ? "vpa" : "pdb";
  const std::string verb = std::string(kIsCreate<Step> ? "create_" : kIsUpdate<Step> ? "update_" : "delete_") + noun;
  std::string ns;
  std::string name;
  if constexpr (kIsCreate<Step>) {
    ns = kube::namespace_of(body_of(step));
    name = kube::name(body_of(step));
  } else {
    ns = step.ns;
    name = step.name;
  }
  const json subject = event_subject(resource, body_of(step), ns, name);
  const std::string object = ns + "/" + name;
  if (dry_run()) {
    log().info("dry-run: would " + verb, {{noun, object}, {"reason", step.reason}});
    reported().report("dry|" + verb + "|" + object + "|" + step.reason, subject, false,
                     kIsVpa<Step> ? "DryRunVpa" : "DryRunPdb", "ballast would " + verb + " " + name + ": " + step.reason);
    count_action(verb.c_str(), "dry_run");
    return;
  }
  // One key per object: a failed create, update or delete of it waits out the same backoff.
  const std::string retry_key = std::string(noun) + "|" + object;
  if (!may_retry(retry_key)) return;  // said when it failed; the pass runs again when it is due
  Status written = Ok{};
  if constexpr (kIsCreate<Step>) {
    auto created = api().create(resource, ns, body_of(step));
    if (!created) written = created.error();
  } else if constexpr (kIsUpdate<Step>) {
    json body = body_of(step);
    body["metadata"]["resourceVersion"] = step.resource_version;
    auto updated = api().update(resource, ns, body);
    if (!updated) written = updated.error();
  } else {
    kube::DeleteOptions preconditions;
    preconditions.uid = step.uid;
    preconditions.resource_version = step.resource_version;
    written = api().remove(resource, ns, name, preconditions);
  }
  if (!written) {
    const auto code = written.error().code;
    // A stale cache: the watch brings the newer object, and with it the pass that re-plans.
    // Either way the write waits out its backoff, so a watch that is down or an apiserver
    // that keeps failing is not hammered once a pass.
    const bool stale =
        code == ErrorCode::kConflict || code == ErrorCode::kAlreadyExists || code == ErrorCode::kNotFound;
    const auto wait = retry_later(retry_key);
    (stale ? log().debug(resource.kind + " write raced a change; re-planning", {{noun, object}, {"retryInMs", wait}})
           : log().warn(resource.kind + " write failed",
                       {{noun, object}, {"action", verb}, {"error", written.error().message}, {"retryInMs", wait}}));
    count_action(verb.c_str(), stale ? "conflict" : "error");
    return;
  }
  succeeded(retry_key);
  count_action(verb.c_str(), "ok");
  log().info(resource.kind + " " + verb, {{noun, object}, {"reason", step.reason}});
  const std::string kind_word = kIsVpa<Step> ? "Vpa" : "Pdb";
  const char* done = kIsCreate<Step> ? "Created" : kIsUpdate<Step> ? "Updated" : "Deleted";
  events().normal(subject, kind_word + done, name + ": " + step.reason);
}

}  // namespace ballast::guard
