#include "guard/reconciler/guard_reconciler.h"

#include <variant>

#include "guard/pdb_planner.h"
#include "guard/priority_class_planner.h"
#include "kube/model/object_meta.h"

namespace ballast::guard {
namespace {

using nlohmann::json;

// The object an Event about a PDB action is attached to: the owning workload when the
// PDB names one (that is where users look), else the PDB itself.
json event_subject(const json& pdb, const std::string& ns, const std::string& name) {
  if (const auto owners = kube::owner_references(pdb); !owners.empty()) {
    const kube::OwnerReference& owner = owners.front();
    return {{"apiVersion", owner.api_version.empty() ? "apps/v1" : owner.api_version},
            {"kind", owner.kind},
            {"metadata", {{"name", owner.name}, {"namespace", ns}, {"uid", owner.uid}}}};
  }
  return {{"apiVersion", "policy/v1"}, {"kind", "PodDisruptionBudget"}, {"metadata", {{"name", name}, {"namespace", ns}}}};
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

}  // namespace

GuardReconciler::GuardReconciler(kube::KubeApi& api, kube::EventRecorder& events,
                                 std::shared_ptr<const policy::TierPolicy> policy, std::function<bool()> is_leader,
                                 MetricsRegistry& metrics, GuardOptions options)
    : api_(api),
      events_(events),
      policy_(std::move(policy)),
      is_leader_(std::move(is_leader)),
      metrics_(metrics),
      options_(options),
      log_("guard") {}

GuardReconciler::~GuardReconciler() { stop(); }

void GuardReconciler::start() {
  kube::Informer::Options informer_options;
  informer_options.resync = options_.informer_resync;
  auto add = [&](kube::Resource resource, kube::Informer::Options options) {
    informers_.push_back(std::make_unique<kube::Informer>(api_, std::move(resource), options, [this] { loop_.poke(); }));
    return informers_.back().get();
  };
  deployments_ = add(kube::deployments(), informer_options);
  stateful_sets_ = add(kube::statefulsets(), informer_options);
  pdbs_ = add(kube::pod_disruption_budgets(), informer_options);
  namespaces_ = add(kube::namespaces(), informer_options);
  priority_classes_ = add(kube::priority_classes(), informer_options);
  auto keda = api_.serves(kube::scaled_objects());
  if (keda && *keda) {
    scaled_objects_ = add(kube::scaled_objects(), informer_options);
  } else {
    log_.info("KEDA ScaledObjects are not served: PDBs follow replica counts only",
              {{"detail", keda ? std::string("keda.sh/v1alpha1 scaledobjects not found") : keda.error().message}});
  }
  for (const auto& target : policy_->pdb_targets) {
    kube::Informer::Options options = informer_options;
    options.ns = target.ns;
    for (const auto& [key, value] : target.match_labels) {
      options.label_selector += (options.label_selector.empty() ? "" : ",") + key + "=" + value;
    }
    target_pods_.emplace_back(target.ns + "/" + target.name, add(kube::pods(), options));
  }
  for (auto& informer : informers_) informer->start();
  loop_.start();
}

void GuardReconciler::stop() {
  loop_.stop();
  for (auto& informer : informers_) informer->stop();
}

uint64_t GuardReconciler::passes() const { return loop_.passes(); }

bool GuardReconciler::may_write() const { return !options_.dry_run && is_leader_(); }

void GuardReconciler::count_action(const char* action, const char* result) {
  metrics_.counter("ballast_guard_actions_total", "Writes the PDB guard made (or would make in dry-run), by result",
                   {{"action", action}, {"result", result}})
      .increment();
}

bool GuardReconciler::reconcile_once() {
  for (const auto& informer : informers_) {
    if (!informer->synced()) return false;
  }
  if (!is_leader_()) return false;
  const auto started = std::chrono::steady_clock::now();
  act_on_priority_classes();
  act_on_pdbs();
  metrics_.gauge("ballast_guard_last_pass_seconds", "Duration of the PDB guard's last plan-and-act pass")
      .set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return true;
}

void GuardReconciler::act_on_priority_classes() {
  const auto plan = plan_priority_classes(*policy_, priority_classes_->objects());
  for (const auto& conflict : plan.conflicts) {
    const json subject = {{"apiVersion", "scheduling.k8s.io/v1"},
                          {"kind", "PriorityClass"},
                          {"metadata", {{"name", conflict.name}}}};
    const std::string have = conflict.have_value ? std::to_string(*conflict.have_value) : "none";
    if (!reported_.reported("pc-conflict|" + conflict.name + "|" + have)) {
      log_.warn("PriorityClass differs from the policy; left unchanged",
                {{"priorityClass", conflict.name}, {"want", conflict.want_value}, {"have", have}});
    }
    reported_.report("pc-conflict|" + conflict.name + "|" + have, subject, true, "PriorityClassConflict",
                     conflict.message);
  }
  for (const auto& create : plan.creates) {
    const std::string name = kube::name(create.priority_class);
    if (options_.dry_run) {
      log_.info("dry-run: would create PriorityClass", {{"priorityClass", name}});
      reported_.report("dry-pc|" + name, create.priority_class, false, "DryRunCreate",
                       "ballast would create PriorityClass " + name + " (dry-run)");
      count_action("create_priority_class", "dry_run");
      continue;
    }
    if (!may_write()) return;
    auto created = api_.create(kube::priority_classes(), "", create.priority_class);
    if (!created) {
      if (created.error().code != ErrorCode::kAlreadyExists) {
        log_.warn("cannot create PriorityClass", {{"priorityClass", name}, {"error", created.error().message}});
      }
      count_action("create_priority_class", "error");
      poke();
      continue;
    }
    count_action("create_priority_class", "ok");
    log_.info("created PriorityClass", {{"priorityClass", name}, {"note", create.note}});
    events_.normal(*created, "PriorityClassCreated", "created from the tier policy" +
                                                         (create.note.empty() ? "" : ": " + create.note));
  }
}

void GuardReconciler::act_on_pdbs() {
  PdbPlannerInput input;
  input.deployments = deployments_->objects();
  input.stateful_sets = stateful_sets_->objects();
  input.pdbs = pdbs_->objects();
  input.namespaces = namespaces_->objects();
  if (scaled_objects_ != nullptr) input.scaled_objects = scaled_objects_->objects();
  for (const auto& [key, informer] : target_pods_) input.target_pods[key] = informer->objects();
  const PdbPlan plan = plan_pdbs(*policy_, input);
  log_.debug("planned PDBs", {{"deployments", input.deployments.size()}, {"statefulSets", input.stateful_sets.size()},
                              {"pdbs", input.pdbs.size()}, {"actions", plan.actions.size()},
                              {"notes", plan.notes.size()}});

  for (const auto& note : plan.notes) {
    const json workload = {{"apiVersion", note.kind == "PodDisruptionBudget" ? "policy/v1" : "apps/v1"},
                           {"kind", note.kind},
                           {"metadata", {{"name", note.name}, {"namespace", note.ns}}}};
    reported_.report("note|" + note.ns + "/" + note.kind + "/" + note.name + "|" + note.message, workload,
                     note_is_warning(note.reason), note_reason(note.reason), note.message);
  }

  for (const auto& action : plan.actions) {
    if (!options_.dry_run && !may_write()) return;  // leadership lost mid-pass: stop writing at once
    std::visit(
        [this](const auto& step) {
          using Step = std::decay_t<decltype(step)>;
          const char* verb = std::is_same_v<Step, CreatePdb> ? "create_pdb"
                             : std::is_same_v<Step, UpdatePdb> ? "update_pdb"
                                                               : "delete_pdb";
          std::string ns;
          std::string name;
          json subject;
          if constexpr (std::is_same_v<Step, CreatePdb>) {
            ns = kube::namespace_of(step.pdb);
            name = kube::name(step.pdb);
            subject = event_subject(step.pdb, ns, name);
          } else if constexpr (std::is_same_v<Step, UpdatePdb>) {
            ns = step.ns;
            name = step.name;
            subject = event_subject(step.pdb, ns, name);
          } else {
            ns = step.ns;
            name = step.name;
            subject = event_subject(json::object(), ns, name);
          }
          if (options_.dry_run) {
            log_.info(std::string("dry-run: would ") + verb, {{"pdb", ns + "/" + name}, {"reason", step.reason}});
            reported_.report(std::string("dry|") + verb + "|" + ns + "/" + name + "|" + step.reason, subject, false,
                             "DryRunPdb", std::string("ballast would ") + verb + " " + name + ": " + step.reason);
            count_action(verb, "dry_run");
            return;
          }
          Status written = Ok{};
          if constexpr (std::is_same_v<Step, CreatePdb>) {
            auto created = api_.create(kube::pod_disruption_budgets(), ns, step.pdb);
            if (!created) written = created.error();
          } else if constexpr (std::is_same_v<Step, UpdatePdb>) {
            json body = step.pdb;
            body["metadata"]["resourceVersion"] = step.resource_version;
            auto updated = api_.update(kube::pod_disruption_budgets(), ns, body);
            if (!updated) written = updated.error();
          } else {
            kube::DeleteOptions preconditions;
            preconditions.uid = step.uid;
            preconditions.resource_version = step.resource_version;
            written = api_.remove(kube::pod_disruption_budgets(), ns, name, preconditions);
          }
          if (!written) {
            const auto code = written.error().code;
            // A stale cache: the watch brings the newer object and the next pass re-plans.
            const bool stale = code == ErrorCode::kConflict || code == ErrorCode::kAlreadyExists ||
                               code == ErrorCode::kNotFound;
            (stale ? log_.debug("PDB write raced a change; re-planning", {{"pdb", ns + "/" + name}})
                   : log_.warn("PDB write failed", {{"pdb", ns + "/" + name}, {"action", verb},
                                                     {"error", written.error().message}}));
            count_action(verb, stale ? "conflict" : "error");
            poke();
            return;
          }
          count_action(verb, "ok");
          log_.info(std::string("PDB ") + verb, {{"pdb", ns + "/" + name}, {"reason", step.reason}});
          const char* reason = std::is_same_v<Step, CreatePdb>   ? "PdbCreated"
                               : std::is_same_v<Step, UpdatePdb> ? "PdbUpdated"
                                                                 : "PdbDeleted";
          events_.normal(subject, reason, name + ": " + step.reason);
        },
        action);
  }
}

}  // namespace ballast::guard
