#include "nodepool/reconciler/nodepool_reconciler.h"

#include <algorithm>

#include "core/base64.h"
#include "core/uuid.h"
#include "kube/model/object_meta.h"
#include "kube/model/taint.h"
#include "nodepool/cluster_model.h"
#include "nodepool/node_group.h"

namespace ballast::nodepool {
namespace {

using nlohmann::json;

json group_subject(const std::string& group) {
  return {{"apiVersion", "ballast.dev/v1alpha1"}, {"kind", "NodeGroup"}, {"metadata", {{"name", group}}}};
}

// The backoff key of everything asked of the provider about one VM (its create's lookup,
// its deletion).
std::string vm_key(const std::string& group, const std::string& name) { return "vm|" + group + "/" + name; }

}  // namespace

NodePoolReconciler::NodePoolReconciler(const kube::ControllerContext& context, ProviderFactory providers,
                                       NodePoolOptions options)
    : Controller(context, "nodepool", options.controller),
      provider_factory_(std::move(providers)),
      options_(std::move(options)) {}

NodePoolReconciler::~NodePoolReconciler() { stop(); }

void NodePoolReconciler::watch_resources() {
  nodes_ = &watch(kube::nodes());
  pods_ = &watch(kube::pods());
  pdbs_ = &watch(kube::pod_disruption_budgets());
  daemonsets_ = &watch(kube::daemonsets());
  persistent_volumes_ = &watch(kube::persistent_volumes());
  persistent_volume_claims_ = &watch(kube::persistent_volume_claims());
  node_groups_ = &watch(kube::node_groups());
}

NodeProvider* NodePoolReconciler::provider_for(const json& node_group) {
  const std::string group = kube::name(node_group);
  const std::string settings = node_group.contains("spec") && node_group["spec"].contains("provider")
                                   ? node_group["spec"]["provider"].dump()
                                   : std::string();
  auto cached = providers_.find(group);
  if (cached != providers_.end() && cached->second.first == settings) return cached->second.second.get();
  auto made = provider_factory_(node_group);
  if (!made) {
    log().warn("cannot set up the provider", {{"group", group}, {"error", made.error().message}});
    reported().report("provider|" + group + "|" + made.error().message, group_subject(group), true, "ProviderError",
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
  auto secret = api().get(kube::secrets(), ns, name);
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

void NodePoolReconciler::scale_up(const json& group_object, const action::ScaleUp& order, TimePoint now,
                                  json& status) {
  const std::string& group = order.group;
  NodeProvider* provider = provider_for(group_object);
  if (provider == nullptr) return;
  auto data = user_data(group_object);
  if (!data) {
    reported().report("bootstrap|" + group + "|" + data.error().message, group_subject(group), true,
                     "BootstrapSecretError", data.error().message);
    return;
  }
  for (int64_t i = 0; i < order.count; ++i) {
    CreateRequest request;
    request.group = group;
    request.request_id = make_uuid();
    request.name = group + "-" + request.request_id.substr(0, 8);
    request.offering = order.offering;
    request.desired_size = order.desired;
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
    status["inFlight"].push_back({{"name", request.name},
                                  {"offering", order.offering},
                                  {"requestedAt", delay_start_text(now)},
                                  {"requestId", request.request_id}});
    if (!write_status(group, json(), status)) {
      // Unrecorded, a VM would be invisible to a successor leader, which would order another.
      status["inFlight"].erase(status["inFlight"].end() - 1);
      return;
    }
    auto created = provider->create(request);
    if (!created && created.error().code == ErrorCode::kUnavailable) {
      keep_unconfirmed(group, request.name, created.error().message, status);
      return;
    }
    if (!created) {
      log().warn("provider create failed", {{"group", group}, {"node", request.name}, {"error", created.error().message}});
      events().warning(group_subject(group), "ScaleUpFailed", request.name + ": " + created.error().message);
      auto& in_flight = status["inFlight"];
      in_flight.erase(in_flight.end() - 1);
      status["lastScaleUpFailure"] = {{"time", delay_start_text(now)}, {"reason", created.error().message}};
      failed_scale_up(group, "provider");
      return;
    }
    status["inFlight"].back()["providerId"] = created->id;
    status["lastScaleUp"] = {{"time", delay_start_text(now)}, {"reason", order.reason}};
    metrics().counter("ballast_scaled_up_nodes_total", "Nodes requested from providers", {{"group", group}}).increment();
    log().info("node requested",
              {{"group", group}, {"node", request.name}, {"offering", order.offering}, {"reason", order.reason}});
    events().normal(group_subject(group), "ScaledUp",
                   "requested " + request.name + " (" + order.offering + "): " + order.reason);
  }
}

void NodePoolReconciler::keep_unconfirmed(const std::string& group, const std::string& name, const std::string& error,
                                          json& status) {
  status["inFlight"].back()["unconfirmed"] = true;
  const auto wait = retry_later(vm_key(group, name));
  log().warn("create failed with no answer to tell whether the VM was made; the order is kept and its name looked up again",
             {{"group", group}, {"node", name}, {"error", error}, {"retryInMs", wait}});
  events().warning(group_subject(group), "ScaleUpUnconfirmed",
                   name + ": " + error + "; looking the name up at the provider before ordering again");
}

void NodePoolReconciler::confirm_orders(const json& group_object, TimePoint now, json& status) {
  if (!status.contains("inFlight") || !status["inFlight"].is_array()) return;
  const std::string group = kube::name(group_object);
  auto& in_flight = status["inFlight"];
  for (size_t i = 0; i < in_flight.size();) {
    json& entry = in_flight[i];
    const std::string name = entry.value("name", "");
    const std::string key = vm_key(group, name);
    if (!entry.value("unconfirmed", false) || !may_retry(key)) {
      ++i;
      continue;
    }
    NodeProvider* provider = provider_for(group_object);
    if (provider == nullptr) return;
    auto listed = provider->list(group);
    if (!listed) {
      const auto wait = retry_later(key);
      log().warn("cannot look up an unconfirmed order; kept in flight",
                 {{"group", group}, {"node", name}, {"error", listed.error().message}, {"retryInMs", wait}});
      ++i;
      continue;
    }
    succeeded(key);
    const auto vm = std::find_if(listed->begin(), listed->end(), [&](const auto& instance) { return instance.name == name; });
    if (vm != listed->end()) {
      entry.erase("unconfirmed");
      if (!vm->id.empty()) entry["providerId"] = vm->id;
      log().info("unconfirmed order found at the provider by name", {{"group", group}, {"node", name}, {"id", vm->id}});
      events().normal(group_subject(group), "ScaledUp", "found " + name + " at the provider: the lost order went through");
      ++i;
      continue;
    }
    // The provider does not have it: the order never went through. A failed scale-up as
    // any other, so the group backs off before it orders anew.
    log().warn("unconfirmed order not found at the provider; the scale-up failed", {{"group", group}, {"node", name}});
    events().warning(group_subject(group), "ScaleUpFailed", name + ": the provider has no VM of that name");
    status["lastScaleUpFailure"] = {{"time", delay_start_text(now)}, {"reason", name + ": the order did not go through"}};
    failed_scale_up(group, "provider");
    in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void NodePoolReconciler::failed_scale_up(const std::string& group, const char* reason) {
  metrics().counter("ballast_failed_scale_ups_total", "Scale-ups that failed: the provider refused, or a VM never joined",
                   {{"group", group}, {"reason", reason}})
      .increment();
}

void NodePoolReconciler::provision_timeout(const json& group_object, const action::ProvisionTimeout& timeout,
                                           TimePoint now, json& status) {
  const std::string& group = timeout.group;
  NodeProvider* provider = provider_for(group_object);
  if (provider == nullptr) return;
  // Without the provider's id (a leader killed before the create answered, a VPSie VM
  // still pending) the provider finds the VM by its name; the name is no id, and a delete
  // of it would answer "not found" while the VM runs on.
  ProviderInstance instance;
  instance.id = timeout.provider_id;
  instance.name = timeout.request;
  instance.group = group;
  const std::string key = vm_key(group, timeout.request);
  if (!may_retry(key)) return;
  log().warn("node never joined; deleting it at the provider", {{"group", group}, {"node", timeout.request}});
  if (auto removed = provider->remove(instance, timeout.desired); !removed) {
    const auto wait = retry_later(key);
    log().warn("cannot delete the VM that never joined",
              {{"group", group}, {"node", timeout.request}, {"error", removed.error().message}, {"retryInMs", wait}});
    return;  // still in flight: tried again once its backoff ends
  }
  succeeded(key);
  auto& in_flight = status["inFlight"];
  for (auto it = in_flight.begin(); it != in_flight.end(); ++it) {
    if (it->value("name", "") == timeout.request) {
      in_flight.erase(it);
      break;
    }
  }
  events().warning(group_subject(group), "ProvisionTimeout",
                  timeout.request + " did not join within " + std::to_string(timeout.timeout_seconds) +
                      "s; deleted at the provider");
  status["lastScaleUpFailure"] = {{"time", delay_start_text(now)}, {"reason", timeout.request + " did not join in time"}};
  failed_scale_up(group, "timeout");
}

bool NodePoolReconciler::start_drain(const json& node, TimePoint now) {
  const std::string name = kube::name(node);
  json taints = node.contains("spec") && node["spec"].contains("taints") && node["spec"]["taints"].is_array()
                    ? node["spec"]["taints"]
                    : json::array();
  taints.push_back({{"key", kToBeDeletedTaint}, {"value", std::to_string(std::chrono::system_clock::to_time_t(now))},
                    {"effect", "NoSchedule"}});
  const json patch = {{"metadata", {{"annotations", {{kDrainStartedAnnotation, delay_start_text(now)}}}}},
                      {"spec", {{"unschedulable", true}, {"taints", taints}}}};
  const std::string key = "taint|" + name;
  if (!may_retry(key)) return false;
  auto patched = api().patch(kube::nodes(), "", name, kube::PatchType::kMerge, patch);
  if (!patched) {
    const auto wait = retry_later(key);
    log().warn("cannot taint the node for removal", {{"node", name}, {"error", patched.error().message}, {"retryInMs", wait}});
    return false;
  }
  succeeded(key);
  log().info("draining node", {{"node", name}, {"group", kube::label(node, kNodeGroupLabel)}});
  events().normal(node, "ScaleDown", "draining " + name + " to remove it");
  return true;
}

void NodePoolReconciler::undo_drain(const json& node, const std::string& why, TimePoint now,
                                    std::map<std::string, json>& statuses) {
  const std::string name = kube::name(node);
  const std::string group = kube::label(node, kNodeGroupLabel);
  // An untaint that failed is waiting out its backoff: its failure was said then, once.
  const std::string key = "untaint|" + name;
  if (!may_retry(key)) return;
  log().warn("scale-down failed; node kept", {{"node", name}, {"group", group}, {"reason", why}});
  events().warning(node, "ScaleDownFailed", why);
  failed_scale_down(group);
  if (statuses.count(group) > 0) statuses[group]["lastScaleDownFailure"] = {{"time", delay_start_text(now)}, {"reason", name + ": " + why}};
  if (!node.contains("spec")) return;
  json taints = json::array();
  for (const auto& taint : node["spec"].value("taints", json::array())) {
    if (!(taint.is_object() && taint.value("key", "") == kToBeDeletedTaint)) taints.push_back(taint);
  }
  if (taints.size() == node["spec"].value("taints", json::array()).size()) return;  // never tainted: nothing to undo
  const json patch = {{"metadata", {{"annotations", {{kDrainStartedAnnotation, nullptr}}}}},
                      {"spec", {{"unschedulable", nullptr}, {"taints", taints}}}};
  if (auto patched = api().patch(kube::nodes(), "", name, kube::PatchType::kMerge, patch); !patched) {
    const auto wait = retry_later(key);
    log().warn("cannot untaint the node", {{"node", name}, {"error", patched.error().message}, {"retryInMs", wait}});
    return;
  }
  succeeded(key);
}

void NodePoolReconciler::failed_scale_down(const std::string& group) {
  metrics().counter("ballast_failed_scale_downs_total", "Scale-downs that failed: a drain undone or a VM not deleted",
                   {{"group", group}})
      .increment();
}

// Evicts one pod of a draining node; false when the drain must be undone.
bool NodePoolReconciler::evict(const action::Evict& eviction, std::string& failure) {
  const auto& pod = eviction.pod;
  // A refused eviction (429: a PDB allows no disruption now) is the drain waiting, asked
  // again each pass until maxGracefulTerminationSeconds; a failed one backs off.
  const std::string key = "evict|" + pod.str();
  if (!may_retry(key)) return true;
  auto evicted = api().evict(pod.ns, pod.name, std::nullopt);
  if (!evicted) {
    const auto wait = retry_later(key);
    log().warn("eviction failed", {{"node", eviction.node}, {"pod", pod.str()}, {"error", evicted.error().message},
                                   {"retryInMs", wait}});
  } else {
    succeeded(key);
  }
  const char* result = !evicted                                           ? "error"
                       : *evicted == kube::EvictionResult::kBlockedByPdb  ? "blocked"
                       : *evicted == kube::EvictionResult::kMultiplePdbs ? "multiple_pdbs"
                                                                          : "ok";
  metrics().counter("ballast_evicted_pods_total", "Evictions requested while draining nodes", {{"result", result}})
      .increment();
  if (evicted && *evicted == kube::EvictionResult::kMultiplePdbs) {
    failure = "pod " + pod.str() + " is selected by more than one PodDisruptionBudget";
    return false;
  }
  if (evicted && *evicted == kube::EvictionResult::kBlockedByPdb) {
    log().info("eviction refused by a PDB; retrying next pass", {{"node", eviction.node}, {"pod", pod.str()}});
  }
  return true;
}

bool NodePoolReconciler::delete_node(const json& node, const json* group_object, const action::DeleteNode& removal,
                                     TimePoint now, std::map<std::string, json>& statuses) {
  const std::string& name = removal.node;
  const std::string& group = removal.group;
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
    const std::string key = vm_key(group, name);
    if (!may_retry(key)) return false;
    if (auto removed = provider->remove(instance, removal.desired); !removed) {
      retry_later(key);
      const std::string failure = "provider could not delete the VM: " + removed.error().message;
      if (removal.drained) {
        undo_drain(node, failure, now, statuses);
      } else {
        log().warn("scale-down failed; node kept", {{"node", name}, {"group", group}, {"reason", failure}});
        events().warning(node, "ScaleDownFailed", failure);
        failed_scale_down(group);
        statuses[group]["lastScaleDownFailure"] = {{"time", delay_start_text(now)}, {"reason", name + ": " + failure}};
      }
      return false;
    }
    succeeded(key);
  }
  const std::string key = "node|" + name;
  if (!may_retry(key)) return false;
  if (auto deleted = api().remove(kube::nodes(), "", name, {}); !deleted && deleted.error().code != ErrorCode::kNotFound) {
    const auto wait = retry_later(key);
    log().warn("cannot delete the Node object", {{"node", name}, {"error", deleted.error().message}, {"retryInMs", wait}});
    return false;
  }
  succeeded(key);
  metrics().counter("ballast_scaled_down_nodes_total", "Nodes removed", {{"group", group}}).increment();
  log().info("node removed", {{"node", name}, {"group", group}, {"reason", removal.why}});
  events().normal(group_subject(group), "ScaledDown", removal.why);
  if (group_object != nullptr) statuses[group]["lastScaleDown"] = {{"time", format_time(now)}, {"reason", removal.why}};
  return true;
}

bool NodePoolReconciler::write_status(const std::string& group, const json& before, const json& after) {
  if (before == after) return true;
  if (!may_write()) return false;
  const std::string key = "status|" + group;
  if (!may_retry(key)) return false;
  auto patched = api().patch(kube::node_groups(), "", group + "/status", kube::PatchType::kMerge, {{"status", after}});
  if (!patched) {
    const auto wait = retry_later(key);
    log().warn("cannot write NodeGroup status", {{"group", group}, {"error", patched.error().message}, {"retryInMs", wait}});
    return false;
  }
  succeeded(key);
  return true;
}

namespace {

json subject_object(const EventSubject& subject, const std::map<std::string, const json*>& nodes) {
  if (subject.kind == "Node") {
    if (const auto it = nodes.find(subject.name); it != nodes.end()) return *it->second;
    return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", subject.name}}}};
  }
  if (subject.kind == "Pod") {
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", subject.name}, {"namespace", subject.ns}}}};
  }
  return group_subject(subject.name);
}

// Drops (or, adopting, marks) one status.inFlight entry by its request name.
void edit_in_flight(json& status, const std::string& request, const std::string& adopted_node) {
  if (!status.contains("inFlight") || !status["inFlight"].is_array()) return;
  auto& in_flight = status["inFlight"];
  for (auto it = in_flight.begin(); it != in_flight.end(); ++it) {
    if (it->value("name", "") != request) continue;
    if (adopted_node.empty()) {
      in_flight.erase(it);
    } else {
      (*it)["node"] = adopted_node;
    }
    return;
  }
}

}  // namespace

void NodePoolReconciler::record_metrics(const ActuationPlan& plan) {
  metrics().gauge("ballast_unschedulable_pods_count", "Pods unschedulable and old enough for a scale-up decision")
      .set(static_cast<double>(plan.up.pending_considered));
  std::map<std::string, int> unremovable;
  for (const auto& group : plan.down.groups) {
    double cpu = 0;
    double memory = 0;
    for (const auto& node : group.nodes) {
      cpu += node.cpu_utilization;
      memory += node.memory_utilization;
      if (node.state != NodeState::kBlocked) continue;
      for (const auto& blocker : node.blockers) ++unremovable[block_code(blocker.reason)];
    }
    const double count = group.nodes.empty() ? 1.0 : static_cast<double>(group.nodes.size());
    const char* help = "Mean requested share of allocatable over the group's nodes, by resource";
    metrics().gauge("ballast_node_group_utilization", help, {{"group", group.group}, {"resource", "cpu"}}).set(cpu / count);
    metrics().gauge("ballast_node_group_utilization", help, {{"group", group.group}, {"resource", "memory"}})
        .set(memory / count);
  }
  for (const auto& [reason, count] : unremovable) {
    metrics().gauge("ballast_unremovable_nodes_count", "Nodes scale-down may not remove, by reason", {{"reason", reason}})
        .set(count);
  }
  for (const auto& status : plan.statuses) {
    const auto nodes = [&](const char* state, int64_t value) {
      metrics().gauge("ballast_nodes_count", "Nodes per NodeGroup by state (ready, unready, in_flight)",
                     {{"group", status.group}, {"state", state}})
          .set(static_cast<double>(value));
    };
    nodes("ready", status.ready_nodes);
    nodes("unready", status.current_nodes - status.ready_nodes);
    nodes("in_flight", status.in_flight);
    metrics().gauge("ballast_node_group_target_count", "The size the last pass planned for each NodeGroup",
                   {{"group", status.group}})
        .set(static_cast<double>(status.desired_nodes));
    metrics().gauge("ballast_node_group_unschedulable_pods_count",
                   "Pending pods a NodeGroup takes with new nodes or was rejected for", {{"group", status.group}})
        .set(static_cast<double>(status.unschedulable_pods));
  }
}

bool NodePoolReconciler::reconcile_once(TimePoint now) {
  if (!synced()) return false;
  if (!leads()) {
    if (options_.alert_requests) options_.alert_requests->take();  // only the leader acts on them
    return false;
  }
  const auto pass_started = clock().now();

  const auto node_objects = nodes_->objects();
  const auto group_objects = node_groups_->objects();
  kube::SharedObjects all = node_objects;
  for (auto* informer : {pdbs_, daemonsets_, persistent_volumes_, persistent_volume_claims_}) {
    all.append(informer->objects());
  }
  all.append(group_objects);
  auto snapshot = parse_objects(all);
  all = {};
  auto pods = parsed_pods_.update(pods_->objects());
  if (!snapshot || !pods) {
    log().warn("cannot read the cluster; no action this pass",
               {{"error", (snapshot ? pods.error() : snapshot.error()).message}});
    return true;
  }
  snapshot->pods = std::move(*pods);
  if (options_.alert_requests) {
    auto requests = options_.alert_requests->take();
    for (auto& group : snapshot->node_groups) {
      if (auto it = requests.find(group.name); it != requests.end()) {
        group.requests = std::move(it->second);
        requests.erase(it);
      }
    }
    for (const auto& [group, unknown] : requests) {
      log().warn("alert names no NodeGroup; request dropped", {{"group", group}, {"source", unknown.front().source}});
    }
  }
  ActuationOptions plan_options;
  plan_options.dry_run = dry_run();
  plan_options.provision_timeout_seconds = options_.provision_timeout_seconds;
  const ActuationPlan plan = plan_actuation(std::move(*snapshot), now, plan_options);

  std::map<std::string, const json*> groups;
  std::map<std::string, json> before;
  std::map<std::string, json> statuses;
  for (const auto& object : group_objects) {
    const std::string name = kube::name(object);
    groups[name] = &object;
    before[name] = object.value("status", json::object());
    statuses[name] = before[name];
  }
  std::map<std::string, const json*> nodes;
  for (const auto& node : node_objects) nodes[kube::name(node)] = &node;
  static const json kNoObject = json::object();
  auto node_object = [&](const std::string& name) -> const json& {
    const auto it = nodes.find(name);
    return it == nodes.end() ? kNoObject : *it->second;
  };
  auto group_object = [&](const std::string& name) -> const json* {
    const auto it = groups.find(name);
    return it == groups.end() ? nullptr : it->second;
  };

  if (may_write()) {
    for (const auto& [name, object] : groups) {
      NodeProvider* provider = provider_for(*object);
      if (provider == nullptr) continue;
      if (auto released = provider->release_idle(now); !released) {
        log().warn("cannot release idle instances", {{"group", name}, {"error", released.error().message}});
      } else {
        for (const auto& id : *released) {
          log().info("released an idle instance at the provider", {{"group", name}, {"instance", id}});
          events().normal(group_subject(name), "InstanceReleased", "cancelled idle parked instance " + id);
        }
      }
    }
  }

  std::set<std::string> failed_drains;  // nodes whose drain this pass undid: no more evictions, no deletion
  for (const auto& planned : plan.actions) {
    // Reports are made in dry-run too; every other action writes, and only a leader writes.
    if (const auto* event = std::get_if<action::Report>(&planned)) {
      reported().report(event->key, subject_object(event->subject, nodes), event->warning, event->reason, event->message);
      continue;
    }
    if (!may_write()) {
      if (dry_run()) continue;  // in-flight bookkeeping only; its status is not written either
      break;                           // leadership lost mid-pass: the next leader plans again
    }
    if (const auto* up = std::get_if<action::ScaleUp>(&planned)) {
      if (const json* object = group_object(up->group)) scale_up(*object, *up, now, statuses[up->group]);
    } else if (const auto* adopt = std::get_if<action::AdoptNode>(&planned)) {
      log().info("node adopted by an in-flight request",
                {{"group", adopt->group}, {"request", adopt->request}, {"node", adopt->node}});
      edit_in_flight(statuses[adopt->group], adopt->request, adopt->node);
    } else if (const auto* end = std::get_if<action::EndInFlight>(&planned)) {
      log().info("node joined and takes pods", {{"group", end->group}, {"node", end->node}});
      edit_in_flight(statuses[end->group], end->request, "");
    } else if (const auto* timeout = std::get_if<action::ProvisionTimeout>(&planned)) {
      if (const json* object = group_object(timeout->group)) provision_timeout(*object, *timeout, now, statuses[timeout->group]);
    } else if (const auto* drain = std::get_if<action::StartDrain>(&planned)) {
      start_drain(node_object(drain->node), now);
    } else if (const auto* eviction = std::get_if<action::Evict>(&planned)) {
      std::string failure;
      if (failed_drains.count(eviction->node) == 0 && !evict(*eviction, failure)) {
        failed_drains.insert(eviction->node);
        undo_drain(node_object(eviction->node), failure, now, statuses);
      }
    } else if (const auto* undo = std::get_if<action::UndoDrain>(&planned)) {
      undo_drain(node_object(undo->node), undo->why, now, statuses);
    } else if (const auto* removal = std::get_if<action::DeleteNode>(&planned)) {
      delete_node(node_object(removal->node), group_object(removal->group), *removal, now, statuses);
    }
  }
  if (may_write()) {
    for (const auto& [name, object] : groups) confirm_orders(*object, now, statuses[name]);
  }
  for (const auto& status : plan.statuses) {
    if (statuses.count(status.group) > 0) apply_status(status, now, statuses[status.group]);
  }
  record_metrics(plan);
  for (const auto& [name, status] : statuses) write_status(name, before[name], status);
  if (plan.next_due) requeue_at(clock().now() + (*plan.next_due - now));
  metrics().gauge("ballast_function_duration_seconds", "Duration of the node-pool reconciler's last pass",
                 {{"function", "main"}})
      .set(std::chrono::duration<double>(clock().now() - pass_started).count());
  return true;
}

}  // namespace ballast::nodepool
