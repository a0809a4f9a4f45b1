#include "nodepool/reconciler/nodepool_reconciler.h"

#include "core/base64.h"
#include "core/uuid.h"
#include "kube/model/object_meta.h"
#include "kube/model/taint.h"
#include "nodepool/cluster_model.h"
#include "nodepool/node_group.h"
#include "nodepool/scale_down_planner.h"
#include "nodepool/scale_up_planner.h"

namespace ballast::nodepool {
namespace {

using nlohmann::json;

bool has_drain_taint(const json& node) {
  if (!node.contains("spec") || !node["spec"].contains("taints") || !node["spec"]["taints"].is_array()) return false;
  for (const auto& taint : node["spec"]["taints"]) {
    if (taint.is_object() && taint.value("key", "") == kToBeDeletedTaint) return true;
  }
  return false;
}

// A Node that can take pods: its Ready condition says True and the taints a node carries
// while it starts are gone (the node lifecycle controller lifts node.kubernetes.io/not-ready
// a moment after Ready; a cloud provider's uninitialized taint likewise). Until then the
// planner cannot place the pending pods there, so ending its VM's in-flight entry earlier
// would order a second VM for the same pods (seen on the real control plane).
bool takes_pods(const json& node) {
  const json* spec = node.contains("spec") ? &node["spec"] : nullptr;
  if (spec != nullptr && spec->contains("taints") && (*spec)["taints"].is_array()) {
    for (const auto& taint : (*spec)["taints"]) {
      if (taint.is_object() && kube::is_startup_taint(taint.value("key", ""))) return false;
    }
  }
  const json* status = node.contains("status") ? &node["status"] : nullptr;
  if (status == nullptr || !status->contains("conditions") || !(*status)["conditions"].is_array()) return false;
  for (const auto& condition : (*status)["conditions"]) {
    if (condition.is_object() && condition.value("type", "") == "Ready") return condition.value("status", "") == "True";
  }
  return false;
}

// Pods the drain must move: bound to the node, not DaemonSet or mirror pods, not finished.
bool must_move(const json& pod, const std::string& node) {
  if (!pod.contains("spec") || pod["spec"].value("nodeName", "") != node) return false;
  const std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
  if (phase == "Succeeded" || phase == "Failed") return false;
  if (!kube::annotation(pod, "kubernetes.io/config.mirror").empty()) return false;
  const auto controller = kube::controller_of(pod);
  return !controller || controller->kind != "DaemonSet";
}

json group_subject(const std::string& group) {
  return {{"apiVersion", "ballast.dev/v1alpha1"}, {"kind", "NodeGroup"}, {"metadata", {{"name", group}}}};
}

int64_t spec_int(const json& group, const char* section, const char* key, int64_t fallback) {
  const json& spec = group.contains("spec") ? group["spec"] : json::object();
  if (section == nullptr) return spec.contains(key) && spec[key].is_number_integer() ? spec[key].get<int64_t>() : fallback;
  if (!spec.contains(section) || !spec[section].is_object()) return fallback;
  const json& part = spec[section];
  return part.contains(key) && part[key].is_number_integer() ? part[key].get<int64_t>() : fallback;
}

}  // namespace

NodePoolReconciler::NodePoolReconciler(kube::KubeApi& api, kube::EventRecorder& events, ProviderFactory providers,
                                       std::function<bool()> is_leader, MetricsRegistry& metrics,
                                       NodePoolOptions options)
    : api_(api),
      events_(events),
      provider_factory_(std::move(providers)),
      is_leader_(std::move(is_leader)),
      metrics_(metrics),
      options_(options),
      log_("nodepool") {}

NodePoolReconciler::~NodePoolReconciler() { stop(); }

void NodePoolReconciler::start() {
  kube::Informer::Options informer_options;
  informer_options.resync = options_.informer_resync;
  auto add = [&](kube::Resource resource) {
    informers_.push_back(std::make_unique<kube::Informer>(api_, std::move(resource), informer_options, [this] { loop_.poke(); }));
    return informers_.back().get();
  };
  nodes_ = add(kube::nodes());
  pods_ = add(kube::pods());
  pdbs_ = add(kube::pod_disruption_budgets());
  daemonsets_ = add(kube::daemonsets());
  persistent_volumes_ = add(kube::persistent_volumes());
  persistent_volume_claims_ = add(kube::persistent_volume_claims());
  node_groups_ = add(kube::node_groups());
  for (auto& informer : informers_) informer->start();
  loop_.start();
}

void NodePoolReconciler::stop() {
  loop_.stop();
  for (auto& informer : informers_) informer->stop();
}

uint64_t NodePoolReconciler::passes() const { return loop_.passes(); }

bool NodePoolReconciler::may_write() const { return !options_.dry_run && is_leader_(); }

NodeProvider* NodePoolReconciler::provider_for(const json& node_group) {
  const std::string group = kube::name(node_group);
  const std::string settings = node_group.contains("spec") && node_group["spec"].contains("provider")
                                   ? node_group["spec"]["provider"].dump()
                                   : std::string();
  auto cached = providers_.find(group);
  if (cached != providers_.end() && cached->second.first == settings) return cached->second.second.get();
  auto made = provider_factory_(node_group);
  if (!made) {
    log_.warn("cannot set up the provider", {{"group", group}, {"error", made.error().message}});
    reported_.report("provider|" + group + "|" + made.error().message, group_subject(group), true, "ProviderError",
                     made.error().message);
    providers_.erase(group);
    return nullptr;
  }
  auto& slot = providers_[group];
  slot = {settings, std::move(*made)};
  return slot.second.get();
}

Result<std::string> NodePoolReconciler::user_data(const json& group_object) {
  const json spec = group_object.value("spec", json::object());
  if (!spec.contains("bootstrapSecret") || !spec["bootstrapSecret"].is_object()) return std::string();
  const json& ref = spec["bootstrapSecret"];
  const std::string ns = ref.value("namespace", options_.secrets_namespace);
  const std::string name = ref.value("name", "");
  const std::string key = ref.value("key", "user-data");
  auto secret = api_.get(kube::secrets(), ns, name);
  if (!secret) return Error{secret.error().code, "bootstrapSecret: " + secret.error().message};
  const json data = secret->value("data", json::object());
  if (!data.contains(key) || !data[key].is_string()) {
    return invalid_argument("bootstrapSecret " + ns + "/" + name + " has no key \"" + key + "\"");
  }
  auto decoded = base64_decode(data[key].get<std::string>());
  if (!decoded) return invalid_argument("bootstrapSecret " + ns + "/" + name + ": " + decoded.error().message);
  return *decoded;
}

namespace {

// `{{nodeName}}`, `{{nodeLabels}}` (k=v,k2=v2 for `k3s agent --node-label`) and
// `{{nodeGroup}}` in the bootstrap user-data become this node's values.
std::string render_user_data(std::string text, const CreateRequest& request) {
  std::string labels;
  for (const auto& [key, value] : request.labels) labels += (labels.empty() ? "" : ",") + key + "=" + value;
  const std::pair<std::string, std::string> fields[] = {
      {"{{nodeName}}", request.name}, {"{{nodeLabels}}", labels}, {"{{nodeGroup}}", request.group}};
  for (const auto& [placeholder, value] : fields) {
    for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

}  // namespace

void NodePoolReconciler::scale_up(const json& group_object, int64_t count, const std::string& offering, int desired,
                                  TimePoint now, json& status, const std::string& reason) {
  const std::string group = kube::name(group_object);
  if (options_.dry_run) {
    log_.info("dry-run: would add nodes", {{"group", group}, {"count", count}, {"offering", offering}});
    reported_.report("dry-up|" + group + "|" + std::to_string(count) + "|" + offering + "|" + reason,
                     group_subject(group), false, "DryRunScaleUp",
                     "ballast would add " + std::to_string(count) + " " + offering + " node(s): " + reason);
    return;
  }
  NodeProvider* provider = provider_for(group_object);
  if (provider == nullptr) return;
  auto data = user_data(group_object);
  if (!data) {
    reported_.report("bootstrap|" + group + "|" + data.error().message, group_subject(group), true,
                     "BootstrapSecretError", data.error().message);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    CreateRequest request;
    request.group = group;
    request.request_id = make_uuid();
    request.name = group + "-" + request.request_id.substr(0, 8);
    request.offering = offering;
    request.desired_size = desired;
    request.labels = {{kNodeGroupLabel, group}};
    if (group_object.contains("spec") && group_object["spec"].contains("labels") &&
        group_object["spec"]["labels"].is_object()) {
      for (const auto& [key, value] : group_object["spec"]["labels"].items()) {
        if (value.is_string()) request.labels[key] = value.get<std::string>();
      }
    }
    request.user_data = render_user_data(*data, request);
    // Recorded before the provider is asked: a successor leader sees the name and never
    // orders a second VM for the same need.
    status["inFlight"].push_back(
        {{"name", request.name}, {"offering", offering}, {"requestedAt", format_time(now)}, {"requestId", request.request_id}});
    write_status(group, json(), status);
    auto created = provider->create(request);
    if (!created) {
      log_.warn("provider create failed", {{"group", group}, {"node", request.name}, {"error", created.error().message}});
      events_.warning(group_subject(group), "ScaleUpFailed", request.name + ": " + created.error().message);
      auto& in_flight = status["inFlight"];
      in_flight.erase(in_flight.end() - 1);
      status["lastScaleUpFailure"] = {{"time", format_time(now)}, {"reason", created.error().message}};
      metrics_.counter("ballast_failed_scale_ups_total", "Provider create requests that failed", {{"group", group}})
          .increment();
      return;
    }
    status["inFlight"].back()["providerId"] = created->id;
    status["lastScaleUp"] = {{"time", format_time(now)}, {"reason", reason}};
    metrics_.counter("ballast_scaled_up_nodes_total", "Nodes requested from providers", {{"group", group}}).increment();
    log_.info("node requested", {{"group", group}, {"node", request.name}, {"offering", offering}, {"reason", reason}});
    events_.normal(group_subject(group), "ScaledUp", "requested " + request.name + " (" + offering + "): " + reason);
  }
}

void NodePoolReconciler::reconcile_in_flight(const json& group_object, const std::set<std::string>& ready, int group_size,
                                             TimePoint now, json& status) {
  const std::string group = kube::name(group_object);
  const int64_t timeout = spec_int(group_object, nullptr, "provisionTimeoutSeconds", options_.provision_timeout_seconds);
  json kept = json::array();
  for (const auto& entry : status.value("inFlight", json::array())) {
    const std::string name = entry.value("name", "");
    if (ready.count(name) > 0) {
      log_.info("node joined and is Ready", {{"group", group}, {"node", name}});
      continue;
    }
    auto requested = parse_time(entry.value("requestedAt", ""));
    if (requested && now - *requested > std::chrono::seconds(timeout)) {
      log_.warn("node never became Ready; deleting it at the provider", {{"group", group}, {"node", name}});
      if (may_write()) {
        if (NodeProvider* provider = provider_for(group_object)) {
          ProviderInstance instance;
          instance.id = entry.value("providerId", name);
          instance.name = name;
          instance.group = group;
          if (auto removed = provider->remove(instance, group_size); !removed) {
            log_.warn("cannot delete the VM that never joined", {{"group", group}, {"node", name},
                                                                  {"error", removed.error().message}});
            kept.push_back(entry);
            continue;
          }
        }
      }
      events_.warning(group_subject(group), "ProvisionTimeout",
                      name + " was not Ready within " + std::to_string(timeout) + "s; deleted at the provider");
      status["lastScaleUpFailure"] = {{"time", format_time(now)}, {"reason", name + " was not Ready in time"}};
      continue;
    }
    kept.push_back(entry);
  }
  status["inFlight"] = kept;
}

bool NodePoolReconciler::start_drain(const json& node, TimePoint now) {
  const std::string name = kube::name(node);
  json taints = node.contains("spec") && node["spec"].contains("taints") && node["spec"]["taints"].is_array()
                    ? node["spec"]["taints"]
                    : json::array();
  taints.push_back({{"key", kToBeDeletedTaint}, {"value", std::to_string(std::chrono::system_clock::to_time_t(now))},
                    {"effect", "NoSchedule"}});
  const json patch = {{"metadata", {{"annotations", {{kDrainStartedAnnotation, format_time(now)}}}}},
                      {"spec", {{"unschedulable", true}, {"taints", taints}}}};
  auto patched = api_.patch(kube::nodes(), "", name, kube::PatchType::kMerge, patch);
  if (!patched) {
    log_.warn("cannot taint the node for removal", {{"node", name}, {"error", patched.error().message}});
    return false;
  }
  log_.info("draining node", {{"node", name}, {"group", kube::label(node, kNodeGroupLabel)}});
  events_.normal(node, "ScaleDown", "draining " + name + " to remove it");
  return true;
}

void NodePoolReconciler::undo_drain(const json& node) {
  const std::string name = kube::name(node);
  json taints = json::array();
  for (const auto& taint : node["spec"].value("taints", json::array())) {
    if (!(taint.is_object() && taint.value("key", "") == kToBeDeletedTaint)) taints.push_back(taint);
  }
  const json patch = {{"metadata", {{"annotations", {{kDrainStartedAnnotation, nullptr}}}}},
                      {"spec", {{"unschedulable", nullptr}, {"taints", taints}}}};
  if (auto patched = api_.patch(kube::nodes(), "", name, kube::PatchType::kMerge, patch); !patched) {
    log_.warn("cannot untaint the node", {{"node", name}, {"error", patched.error().message}});
  }
}

void NodePoolReconciler::continue_drain(const json& node, const std::vector<json>& pods, const json* group_object,
                                        int current_nodes, TimePoint now, std::map<std::string, json>& statuses) {
  const std::string name = kube::name(node);
  const std::string group = kube::label(node, kNodeGroupLabel);
  const int64_t grace =
      group_object != nullptr ? spec_int(*group_object, "scaleDown", "maxGracefulTerminationSeconds", 600) : 600;
  const auto started = parse_time(kube::annotation(node, kDrainStartedAnnotation));
  std::vector<const json*> remaining;
  for (const auto& pod : pods) {
    if (must_move(pod, name)) remaining.push_back(&pod);
  }
  auto fail = [&](const std::string& why) {
    log_.warn("scale-down failed; node kept", {{"node", name}, {"group", group}, {"reason", why}});
    events_.warning(node, "ScaleDownFailed", why);
    undo_drain(node);
    if (!group.empty()) statuses[group]["lastScaleDownFailure"] = {{"time", format_time(now)}, {"reason", name + ": " + why}};
  };
  if (!remaining.empty()) {
    if (started && now - *started > std::chrono::seconds(grace)) {
      return fail("pods still running after " + std::to_string(grace) + "s of draining");
    }
    for (const json* pod : remaining) {
      if (kube::is_being_deleted(*pod)) continue;
      const std::string ns = kube::namespace_of(*pod);
      const std::string pod_name = kube::name(*pod);
      auto evicted = api_.evict(ns, pod_name, std::nullopt);
      const char* result = !evicted ? "error"
                           : *evicted == kube::EvictionResult::kBlockedByPdb ? "blocked"
                           : *evicted == kube::EvictionResult::kMultiplePdbs ? "multiple_pdbs"
                                                                              : "ok";
      metrics_.counter("ballast_evicted_pods_total", "Evictions requested while draining nodes", {{"result", result}})
          .increment();
      if (evicted && *evicted == kube::EvictionResult::kMultiplePdbs) {
        return fail("pod " + ns + "/" + pod_name + " is selected by more than one PodDisruptionBudget");
      }
      if (evicted && *evicted == kube::EvictionResult::kBlockedByPdb) {
        log_.info("eviction refused by a PDB; retrying next pass", {{"node", name}, {"pod", ns + "/" + pod_name}});
      }
    }
    return;
  }
  // Empty: delete the VM, then the Node object (no cloud controller will).
  delete_node(node, group_object, current_nodes, now, "removed " + name, statuses);
}

bool NodePoolReconciler::delete_node(const json& node, const json* group_object, int current_nodes, TimePoint now,
                                     const std::string& why, std::map<std::string, json>& statuses) {
  const std::string name = kube::name(node);
  const std::string group = kube::label(node, kNodeGroupLabel);
  if (group_object != nullptr) {
    NodeProvider* provider = provider_for(*group_object);
    if (provider == nullptr) return false;
    ProviderInstance instance;
    instance.id = name;
    instance.name = name;
    instance.group = group;
    if (auto listed = provider->list(group)) {
      for (const auto& vm : *listed) {
        if (vm.name == name) instance = vm;
      }
    }
    if (auto removed = provider->remove(instance, std::max(0, current_nodes - 1)); !removed) {
      const std::string failure = "provider could not delete the VM: " + removed.error().message;
      log_.warn("scale-down failed; node kept", {{"node", name}, {"group", group}, {"reason", failure}});
      events_.warning(node, "ScaleDownFailed", failure);
      if (has_drain_taint(node)) undo_drain(node);
      if (!group.empty()) {
        statuses[group]["lastScaleDownFailure"] = {{"time", format_time(now)}, {"reason", name + ": " + failure}};
      }
      return false;
    }
  }
  if (auto deleted = api_.remove(kube::nodes(), "", name, {}); !deleted && deleted.error().code != ErrorCode::kNotFound) {
    log_.warn("cannot delete the Node object", {{"node", name}, {"error", deleted.error().message}});
    return false;
  }
  metrics_.counter("ballast_scaled_down_nodes_total", "Nodes removed", {{"group", group}}).increment();
  log_.info("node removed", {{"node", name}, {"group", group}, {"reason", why}});
  events_.normal(group_subject(group), "ScaledDown", why);
  if (!group.empty()) statuses[group]["lastScaleDown"] = {{"time", format_time(now)}, {"reason", why}};
  return true;
}

void NodePoolReconciler::write_status(const std::string& group, const json& before, const json& after) {
  if (before == after || !may_write()) return;
  auto patched = api_.patch(kube::node_groups(), "", group + "/status", kube::PatchType::kMerge, {{"status", after}});
  if (!patched) log_.warn("cannot write NodeGroup status", {{"group", group}, {"error", patched.error().message}});
}

bool NodePoolReconciler::reconcile_once(TimePoint now) {
  for (const auto& informer : informers_) {
    if (!informer->synced()) return false;
  }
  if (!is_leader_()) return false;
  const auto pass_started = std::chrono::steady_clock::now();

  const auto node_objects = nodes_->objects();
  const auto pod_objects = pods_->objects();
  const auto group_objects = node_groups_->objects();
  std::vector<json> all = node_objects;
  all.insert(all.end(), pod_objects.begin(), pod_objects.end());
  for (auto* informer : {pdbs_, daemonsets_, persistent_volumes_, persistent_volume_claims_, node_groups_}) {
    auto objects = informer->objects();
    all.insert(all.end(), std::make_move_iterator(objects.begin()), std::make_move_iterator(objects.end()));
  }
  auto snapshot = parse_objects(all);
  if (!snapshot) {
    log_.warn("cannot read the cluster; no action this pass", {{"error", snapshot.error().message}});
    return true;
  }

  std::map<std::string, const json*> groups;
  std::map<std::string, json> before;
  std::map<std::string, json> statuses;
  for (const auto& object : group_objects) {
    const std::string name = kube::name(object);
    groups[name] = &object;
    before[name] = object.value("status", json::object());
    statuses[name] = before[name];
  }
  std::set<std::string> ready;
  std::map<std::string, int> group_nodes;
  for (const auto& node : node_objects) {
    if (takes_pods(node)) ready.insert(kube::name(node));
    if (const std::string group = kube::label(node, kNodeGroupLabel); !group.empty()) ++group_nodes[group];
  }
  for (auto& [name, object] : groups) {
    reconcile_in_flight(*object, ready, group_nodes[name], now, statuses[name]);
    if (!may_write()) continue;
    NodeProvider* provider = provider_for(*object);
    if (provider == nullptr) continue;
    if (auto released = provider->release_idle(now); !released) {
      log_.warn("cannot release idle instances", {{"group", name}, {"error", released.error().message}});
    } else {
      for (const auto& id : *released) {
        log_.info("released an idle instance at the provider", {{"group", name}, {"instance", id}});
        events_.normal(group_subject(name), "InstanceReleased", "cancelled idle parked instance " + id);
      }
    }
  }

  // Drains in progress continue whatever this pass plans.
  for (const auto& node : node_objects) {
    if (!has_drain_taint(node)) continue;
    const std::string group = kube::label(node, kNodeGroupLabel);
    const auto it = groups.find(group);
    if (options_.dry_run || !may_write()) continue;
    continue_drain(node, pod_objects, it == groups.end() ? nullptr : it->second, group_nodes[group], now, statuses);
  }

  const ScaleUpPlan up = plan_scale_up(*snapshot, now);
  metrics_.gauge("ballast_unschedulable_pods_count", "Pods unschedulable and old enough for a scale-up decision")
      .set(static_cast<double>(up.pending_considered));
  for (const auto& pod : up.unplaced) {
    std::string why;
    for (const auto& rejection : pod.rejections) {
      why += (why.empty() ? "" : "; ") + rejection.group + ": " + rejection.message;
    }
    if (why.empty()) why = "no NodeGroup exists";
    const json subject = {{"apiVersion", "v1"}, {"kind", "Pod"},
                          {"metadata", {{"name", pod.pod.name}, {"namespace", pod.pod.ns}}}};
    reported_.report("unplaced|" + pod.pod.str() + "|" + why, subject, false, "NotTriggerScaleUp",
                     "pod didn't trigger scale-up: " + why);
  }
  std::set<std::string> scaling_up;
  for (const auto& group : up.groups) {
    const auto it = groups.find(group.group);
    if (it == groups.end()) continue;
    statuses[group.group]["currentNodes"] = group.current_nodes;
    statuses[group.group]["desiredNodes"] = group.target_nodes();
    if (group.nodes_to_add() == 0) continue;
    scaling_up.insert(group.group);
    // Like cluster-autoscaler's node group backoff: a group whose last scale-up failed
    // orders nothing until scaleUp.backoffSeconds have passed.
    const auto failed_at =
        parse_time(statuses[group.group].value("lastScaleUpFailure", json::object()).value("time", std::string()));
    const int64_t backoff = spec_int(*it->second, "scaleUp", "backoffSeconds", 180);
    if (failed_at && now - *failed_at < std::chrono::seconds(backoff)) {
      reported_.report("backoff|" + group.group + "|" + format_time(*failed_at), group_subject(group.group), true,
                       "ScaleUpBackoff",
                       "the last scale-up failed at " + format_time(*failed_at) + "; no new node for " +
                           std::to_string(backoff) + "s");
      continue;
    }
    if (!options_.dry_run && !may_write()) return true;
    const int desired = static_cast<int>(group.target_nodes());
    for (const auto& add : group.add) {
      std::string reason = std::to_string(add.nodes.size()) + " node(s) for pending pods";
      size_t listed = 0;
      for (const auto& planned : add.nodes) {
        for (const auto& pod : planned.pods) {
          if (listed++ < 5) reason += (listed == 1 ? ": " : ", ") + pod.str();
        }
      }
      scale_up(*it->second, static_cast<int64_t>(add.nodes.size()), add.offering, desired, now,
               statuses[group.group], reason);
    }
    if (group.min_nodes_add > 0) {
      scale_up(*it->second, group.min_nodes_add, group.min_nodes_offering, desired, now, statuses[group.group],
               "below minNodes");
    }
  }

  ScaleDownOptions down_options;
  down_options.groups_scaling_up = scaling_up;
  down_options.pending_placements = up.fits_existing;
  const ScaleDownPlan down = plan_scale_down(*snapshot, now, down_options);
  std::map<std::string, int> unremovable;
  for (const auto& group : down.groups) {
    if (groups.count(group.group) == 0) continue;
    json entries = json::array();
    for (const auto& node : group.nodes) {
      json entry = {{"name", node.node}, {"state", node_state_code(node.state)},
                    {"utilization", static_cast<int>(node.utilization * 100) / 100.0}};
      if (node.unneeded_since) entry["unneededSince"] = format_time(*node.unneeded_since);
      if (!node.blockers.empty()) entry["reason"] = node.blockers.front().message;
      entries.push_back(entry);
      if (node.state == NodeState::kBlocked) {
        for (const auto& blocker : node.blockers) ++unremovable[block_code(blocker.reason)];
        const json subject = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", node.node}}}};
        reported_.report("blocked|" + node.node + "|" + node.blockers.front().message, subject, false,
                         "ScaleDownBlocked", node.blockers.front().message);
      }
    }
    statuses[group.group]["nodes"] = entries;
    std::set<std::string> removed_unready;
    for (const auto& planned : group.nodes) {
      if (planned.state != NodeState::kRemove || !planned.not_ready_since) continue;
      removed_unready.insert(planned.node);
      // Unready for unreadySeconds: nothing to drain (the kubelet is gone), delete the VM
      // so a dead VPS stops being billed, then the Node (its pods are then collected).
      const auto node = std::find_if(node_objects.begin(), node_objects.end(),
                                     [&](const json& object) { return kube::name(object) == planned.node; });
      // A drain already under way owns the node until it ends (or times out and is undone).
      if (node == node_objects.end() || has_drain_taint(*node)) continue;
      const std::string why = "removed " + planned.node + ": not Ready since " + format_time(*planned.not_ready_since);
      if (options_.dry_run) {
        log_.info("dry-run: would remove unready node", {{"node", planned.node}, {"group", group.group}});
        reported_.report("dry-down|" + planned.node, *node, false, "DryRunScaleDown",
                         "ballast would delete " + planned.node + " and its VM: not Ready since " +
                             format_time(*planned.not_ready_since));
        continue;
      }
      if (!may_write()) return true;
      const auto it = groups.find(group.group);
      if (delete_node(*node, it == groups.end() ? nullptr : it->second, group_nodes[group.group], now, why, statuses)) {
        --group_nodes[group.group];
      }
    }
    for (const auto& name : group.remove) {
      const auto node = std::find_if(node_objects.begin(), node_objects.end(),
                                     [&](const json& object) { return kube::name(object) == name; });
      if (node == node_objects.end() || has_drain_taint(*node) || removed_unready.count(name)) continue;
      if (options_.dry_run) {
        log_.info("dry-run: would remove node", {{"node", name}, {"group", group.group}});
        reported_.report("dry-down|" + name, *node, false, "DryRunScaleDown", "ballast would drain and remove " + name);
        continue;
      }
      if (!may_write()) return true;
      start_drain(*node, now);
    }
    statuses[group.group]["desiredNodes"] = group.target_nodes();
  }
  for (const auto& [reason, count] : unremovable) {
    metrics_.gauge("ballast_unremovable_nodes_count", "Nodes scale-down may not remove, by reason", {{"reason", reason}})
        .set(count);
  }
  for (const auto& [name, status] : statuses) write_status(name, before[name], status);
  metrics_.gauge("ballast_function_duration_seconds", "Duration of the node-pool reconciler's last pass",
                 {{"function", "main"}})
      .set(std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_started).count());
  return true;
}

}  // namespace ballast::nodepool
