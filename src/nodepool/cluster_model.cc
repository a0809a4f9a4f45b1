#include "nodepool/cluster_model.h"

#include <algorithm>

#include "core/nesting.h"
#include "nodepool/json_read.h"

namespace ballast::nodepool {

using namespace detail;

std::string Node::group() const {
  const auto it = labels.find(kNodeGroupLabel);
  return it == labels.end() ? std::string() : it->second;
}

bool PodAffinityTerm::selects(const std::string& own_ns, const std::string& ns, const Labels& labels) const {
  const bool in_namespace = all_namespaces || (namespaces.empty() ? ns == own_ns
                                                                  : std::find(namespaces.begin(), namespaces.end(),
                                                                              ns) != namespaces.end());
  return in_namespace && selector.matches(labels);
}

VolumeIndex::VolumeIndex(const ClusterSnapshot& cluster) {
  for (const auto& pvc : cluster.persistent_volume_claims) claims_.emplace(pvc.ns + "/" + pvc.name, &pvc);
  for (const auto& pv : cluster.persistent_volumes) {
    by_name_.emplace(pv.name, &pv);
    if (!pv.claim_name.empty()) by_claim_.emplace(pv.claim_ns + "/" + pv.claim_name, &pv);
  }
}

ClaimVolume VolumeIndex::find(const std::string& pod_ns, const PodClaim& c) const {
  const std::string claim_ref = pod_ns + "/" + c.claim;
  const auto claim = claims_.find(claim_ref);
  if (claim == claims_.end()) {
    const auto it = by_claim_.find(claim_ref);
    if (it == by_claim_.end()) return {ClaimVolume::State::kUnknown, nullptr, "PersistentVolumeClaim " + claim_ref};
    return {ClaimVolume::State::kBound, it->second, {}};
  }
  const std::string& volume = claim->second->volume_name;
  if (volume.empty()) return {ClaimVolume::State::kUnbound, nullptr, {}};
  const auto it = by_name_.find(volume);
  if (it == by_name_.end()) {
    return {ClaimVolume::State::kUnknown, nullptr, "PersistentVolume " + volume + " of claim " + claim_ref};
  }
  return {ClaimVolume::State::kBound, it->second, {}};
}

namespace {

LabelSelector selector_at(const json* value, const std::string& path);

// spec.affinity.<kind>.requiredDuringSchedulingIgnoredDuringExecution (kind: podAffinity
// or podAntiAffinity).
std::vector<PodAffinityTerm> affinity_terms_at(const json* spec, const std::string& kind) {
  const std::string path = "spec.affinity." + kind + ".requiredDuringSchedulingIgnoredDuringExecution";
  const json& terms =
      array_at(member(member(member(spec, "affinity", "spec"), kind.c_str(), "spec.affinity"),
                      "requiredDuringSchedulingIgnoredDuringExecution", "spec.affinity." + kind),
               path);
  std::vector<PodAffinityTerm> out;
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string p = index(path, i);
    PodAffinityTerm term;
    term.selector = selector_at(member(&terms[i], "labelSelector", p), p + ".labelSelector");
    term.namespaces = string_list_at(member(&terms[i], "namespaces", p), p + ".namespaces");
    term.all_namespaces = member(&terms[i], "namespaceSelector", p) != nullptr;
    term.topology_key = string_at(member(&terms[i], "topologyKey", p), p + ".topologyKey");
    if (term.topology_key.empty()) fail(p + ".topologyKey", "required");
    out.push_back(std::move(term));
  }
  return out;
}

// spec.topologySpreadConstraints, the DoNotSchedule ones.
std::vector<TopologySpreadConstraint> spread_constraints_at(const json* spec) {
  const std::string path = "spec.topologySpreadConstraints";
  const json& items = array_at(member(spec, "topologySpreadConstraints", "spec"), path);
  std::vector<TopologySpreadConstraint> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string p = index(path, i);
    const json* item = &items[i];
    const std::string when = string_at(member(item, "whenUnsatisfiable", p), p + ".whenUnsatisfiable");
    if (when != "DoNotSchedule" && when != "ScheduleAnyway") {
      fail(p + ".whenUnsatisfiable", "must be DoNotSchedule or ScheduleAnyway");
    }
    TopologySpreadConstraint c;
    c.max_skew = int_at(member(item, "maxSkew", p), p + ".maxSkew", 0);
    if (c.max_skew < 1) fail(p + ".maxSkew", "must be ≥ 1");
    c.topology_key = string_at(member(item, "topologyKey", p), p + ".topologyKey");
    if (c.topology_key.empty()) fail(p + ".topologyKey", "required");
    c.selector = selector_at(member(item, "labelSelector", p), p + ".labelSelector");
    c.min_domains = int_at(member(item, "minDomains", p), p + ".minDomains", 1);
    if (c.min_domains < 1) fail(p + ".minDomains", "must be ≥ 1");
    c.honor_node_affinity = string_at(member(item, "nodeAffinityPolicy", p), p + ".nodeAffinityPolicy") != "Ignore";
    c.honor_node_taints = string_at(member(item, "nodeTaintsPolicy", p), p + ".nodeTaintsPolicy") == "Honor";
    if (when == "DoNotSchedule") out.push_back(std::move(c));
  }
  return out;
}

std::vector<SelectorRequirement> requirements_at(const json* value, const std::string& path) {
  std::vector<SelectorRequirement> out;
  const json& items = array_at(value, path);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string p = index(path, i);
    SelectorRequirement r;
    r.key = string_at(member(&items[i], "key", p), p + ".key");
    r.op = string_at(member(&items[i], "operator", p), p + ".operator");
    r.values = string_list_at(member(&items[i], "values", p), p + ".values");
    const bool known = r.op == "In" || r.op == "NotIn" || r.op == "Exists" || r.op == "DoesNotExist" ||
                       r.op == "Gt" || r.op == "Lt";
    if (!known) fail(p + ".operator", "unsupported operator \"" + r.op + "\"");
    if ((r.op == "Gt" || r.op == "Lt") && r.values.size() != 1) fail(p + ".values", "Gt/Lt take one value");
    out.push_back(std::move(r));
  }
  return out;
}

// `nodeSelectorTerms` of the core/v1 NodeSelector at `selector` (pod required node
// affinity, PV node affinity).
std::vector<NodeSelectorTerm> node_selector_terms_at(const json* selector, const std::string& path) {
  std::vector<NodeSelectorTerm> out;
  const json& terms = array_at(member(selector, "nodeSelectorTerms", path), path + ".nodeSelectorTerms");
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string p = index(path + ".nodeSelectorTerms", i);
    NodeSelectorTerm term;
    term.match_expressions = requirements_at(member(&terms[i], "matchExpressions", p), p + ".matchExpressions");
    term.match_fields = requirements_at(member(&terms[i], "matchFields", p), p + ".matchFields");
    out.push_back(std::move(term));
  }
  return out;
}

Resources container_requests(const json& container, const std::string& path) {
  Resources r;
  const std::string p = path + ".resources.requests";
  const json* requests = member(member(&container, "resources", path), "requests", path + ".resources");
  r.cpu_milli = milli_at(member(requests, "cpu", p), p + ".cpu", 0);
  r.memory_bytes = units_at(member(requests, "memory", p), p + ".memory", 0);
  return r;
}

Resources max_of(const Resources& a, const Resources& b) {
  return {std::max(a.cpu_milli, b.cpu_milli), std::max(a.memory_bytes, b.memory_bytes),
          std::max(a.pods, b.pods)};
}

PodSchedulingSpec read_pod_spec(const json* spec, const std::string& path) {
  PodSchedulingSpec out;
  // Requests, per Kubernetes: regular containers and restartable (sidecar) init
  // containers run together; each classic init container runs alone after the sidecars
  // declared before it. Pod = max(both) + overhead.
  Resources sum;
  Resources sidecars;
  Resources init_peak;
  const json& init = array_at(member(spec, "initContainers", path), path + ".initContainers");
  for (size_t i = 0; i < init.size(); ++i) {
    const std::string p = index(path + ".initContainers", i);
    const Resources r = container_requests(init[i], p);
    if (string_at(member(&init[i], "restartPolicy", p), p + ".restartPolicy") == "Always") {
      sidecars += r;
      init_peak = max_of(init_peak, sidecars);
    } else {
      init_peak = max_of(init_peak, sidecars + r);
    }
  }
  const json& containers = array_at(member(spec, "containers", path), path + ".containers");
  for (size_t i = 0; i < containers.size(); ++i) {
    sum += container_requests(containers[i], index(path + ".containers", i));
  }
  out.requests = max_of(sum + sidecars, init_peak);
  if (const json* overhead = member(spec, "overhead", path)) {
    out.requests.cpu_milli += milli_at(member(overhead, "cpu", path + ".overhead"), path + ".overhead.cpu", 0);
    out.requests.memory_bytes +=
        units_at(member(overhead, "memory", path + ".overhead"), path + ".overhead.memory", 0);
  }
  out.requests.pods = 1;
  out.node_selector = string_map_at(member(spec, "nodeSelector", path), path + ".nodeSelector");
  const std::string ap = path + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
  const json* required = member(member(member(spec, "affinity", path), "nodeAffinity", path + ".affinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution", path + ".affinity.nodeAffinity");
  out.required_affinity = node_selector_terms_at(required, ap);
  const json& tolerations = array_at(member(spec, "tolerations", path), path + ".tolerations");
  for (size_t i = 0; i < tolerations.size(); ++i) {
    const std::string p = index(path + ".tolerations", i);
    Toleration t;
    t.key = string_at(member(&tolerations[i], "key", p), p + ".key");
    t.op = string_at(member(&tolerations[i], "operator", p), p + ".operator", "Equal");
    t.value = string_at(member(&tolerations[i], "value", p), p + ".value");
    t.effect = string_at(member(&tolerations[i], "effect", p), p + ".effect");
    if (t.op != "Equal" && t.op != "Exists") fail(p + ".operator", "must be Equal or Exists");
    out.tolerations.push_back(std::move(t));
  }
  return out;
}

struct Meta {
  std::string ns;
  std::string name;
};

Meta read_meta(const json& object) {
  if (!object.is_object()) fail("", "expected an object");
  const json* meta = member(&object, "metadata", "");
  return {string_at(member(meta, "namespace", "metadata"), "metadata.namespace"),
          string_at(member(meta, "name", "metadata"), "metadata.name")};
}

std::string describe(const char* kind, const Meta& m) {
  std::string out = kind;
  out += ' ';
  if (!m.ns.empty()) out += m.ns + "/";
  out += m.name.empty() ? "<unnamed>" : m.name;
  return out;
}

// Runs `read` and turns any parse failure into an error naming the object.
template <typename T, typename F>
Result<T> guarded(const char* kind, const json& object, F&& read) {
  Meta meta;
  try {
    meta = read_meta(object);
    if (meta.name.empty()) fail("metadata.name", "required");
    return read(meta);
  } catch (const std::exception& e) {
    return invalid_argument(describe(kind, meta) + ": " + e.what());
  }
}

void read_owner(const json& object, std::string& kind, std::string& name) {
  const json& owners = array_at(member(member(&object, "metadata", ""), "ownerReferences", "metadata"),
                                "metadata.ownerReferences");
  for (size_t i = 0; i < owners.size(); ++i) {
    const std::string p = index("metadata.ownerReferences", i);
    if (bool_at(member(&owners[i], "controller", p), p + ".controller", false)) {
      kind = string_at(member(&owners[i], "kind", p), p + ".kind");
      name = string_at(member(&owners[i], "name", p), p + ".name");
    }
  }
}

LabelSelector selector_at(const json* value, const std::string& path) {
  auto parsed = LabelSelector::parse(value != nullptr ? *value : json());
  if (!parsed) fail(path, parsed.error().message);
  return std::move(parsed).value();
}

// metadata.name of an object of a kind we skip, or nullptr.
const json* object_name(const json& object) {
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return nullptr;
  const auto name = meta->find("name");
  return name == meta->end() || !name->is_string() ? nullptr : &*name;
}

}  // namespace

Result<Node> parse_node(const nlohmann::json& object) {
  return guarded<Node>("Node", object, [&](const Meta& meta) {
    Node n;
    n.name = meta.name;
    const json* m = member(&object, "metadata", "");
    n.labels = string_map_at(member(m, "labels", "metadata"), "metadata.labels");
    n.annotations = string_map_at(member(m, "annotations", "metadata"), "metadata.annotations");
    n.created = time_at(member(m, "creationTimestamp", "metadata"), "metadata.creationTimestamp");
    const json* spec = member(&object, "spec", "");
    // A starting node's startup taints are planned as gone, as cluster-autoscaler plans
    // an upcoming node: otherwise the pods it was ordered for "do not fit" it for a moment
    // and a second node is ordered (seen on the real control plane).
    n.taints = taints_at(member(spec, "taints", "spec"), "spec.taints");
    n.starting = std::any_of(n.taints.begin(), n.taints.end(),
                             [](const Taint& taint) { return kube::is_startup_taint(taint.key); });
    std::erase_if(n.taints, [](const Taint& taint) { return kube::is_startup_taint(taint.key); });
    n.unschedulable = bool_at(member(spec, "unschedulable", "spec"), "spec.unschedulable", false);
    const json* status = member(&object, "status", "");
    const json* alloc = member(status, "allocatable", "status");
    if (alloc == nullptr) fail("status.allocatable", "required");
    n.allocatable.cpu_milli = milli_at(member(alloc, "cpu", "status.allocatable"), "status.allocatable.cpu", 0);
    n.allocatable.memory_bytes =
        units_at(member(alloc, "memory", "status.allocatable"), "status.allocatable.memory", 0);
    n.allocatable.pods = units_at(member(alloc, "pods", "status.allocatable"), "status.allocatable.pods", 110);
    const json& conditions = array_at(member(status, "conditions", "status"), "status.conditions");
    for (size_t i = 0; i < conditions.size(); ++i) {
      const std::string p = index("status.conditions", i);
      const std::string type = string_at(member(&conditions[i], "type", p), p + ".type");
      if ((type == "MemoryPressure" || type == "DiskPressure" || type == "PIDPressure") &&
          string_at(member(&conditions[i], "status", p), p + ".status") == "True") {
        n.pressure.push_back(type);
      }
      if (type == "Ready") {
        n.ready = string_at(member(&conditions[i], "status", p), p + ".status") == "True";
        n.not_ready_since.reset();
        if (!n.ready) {
          n.not_ready_since = time_at(member(&conditions[i], "lastTransitionTime", p), p + ".lastTransitionTime");
          if (!n.not_ready_since) n.not_ready_since = n.created;
        }
      }
    }
    return n;
  });
}

Result<Pod> parse_pod(const nlohmann::json& object) {
  return guarded<Pod>("Pod", object, [&](const Meta& meta) {
    Pod pod;
    pod.ns = meta.ns;
    pod.name = meta.name;
    const json* m = member(&object, "metadata", "");
    pod.labels = string_map_at(member(m, "labels", "metadata"), "metadata.labels");
    pod.annotations = string_map_at(member(m, "annotations", "metadata"), "metadata.annotations");
    pod.mirror = pod.annotations.count(kMirrorPodAnnotation) > 0;
    pod.terminating = member(m, "deletionTimestamp", "metadata") != nullptr;
    read_owner(object, pod.controller_kind, pod.controller_name);
    const json* spec = member(&object, "spec", "");
    if (spec == nullptr) fail("spec", "required");
    pod.spec = read_pod_spec(spec, "spec");
    pod.node_name = string_at(member(spec, "nodeName", "spec"), "spec.nodeName");
    pod.required_anti_affinity = affinity_terms_at(spec, "podAntiAffinity");
    pod.required_pod_affinity = affinity_terms_at(spec, "podAffinity");
    pod.topology_spread = spread_constraints_at(spec);
    pod.priority = int_at(member(spec, "priority", "spec"), "spec.priority", 0);
    const json& volumes = array_at(member(spec, "volumes", "spec"), "spec.volumes");
    for (size_t i = 0; i < volumes.size(); ++i) {
      const std::string p = index("spec.volumes", i);
      const std::string name = string_at(member(&volumes[i], "name", p), p + ".name");
      if (const json* claim = member(&volumes[i], "persistentVolumeClaim", p)) {
        const std::string claim_name =
            string_at(member(claim, "claimName", p + ".persistentVolumeClaim"), p + ".persistentVolumeClaim.claimName");
        if (claim_name.empty()) fail(p + ".persistentVolumeClaim.claimName", "required");
        pod.claims.push_back({name, claim_name});
      } else if (member(&volumes[i], "ephemeral", p) != nullptr) {
        pod.claims.push_back({name, pod.name + "-" + name});  // the claim the ephemeral controller makes
      } else if (member(&volumes[i], "hostPath", p) != nullptr) {
        pod.local_volumes.push_back(name);
      } else if (const json* empty_dir = member(&volumes[i], "emptyDir", p)) {
        if (string_at(member(empty_dir, "medium", p + ".emptyDir"), p + ".emptyDir.medium") != "Memory") {
          pod.local_volumes.push_back(name);
        }
      }
    }
    const json* status = member(&object, "status", "");
    pod.phase = string_at(member(status, "phase", "status"), "status.phase", "Pending");
    const json& conditions = array_at(member(status, "conditions", "status"), "status.conditions");
    for (size_t i = 0; i < conditions.size(); ++i) {
      const std::string p = index("status.conditions", i);
      const json* c = &conditions[i];
      if (string_at(member(c, "type", p), p + ".type") == "PodScheduled" &&
          string_at(member(c, "status", p), p + ".status") == "False" &&
          string_at(member(c, "reason", p), p + ".reason") == "Unschedulable") {
        pod.unschedulable = true;
        pod.unschedulable_since = time_at(member(c, "lastTransitionTime", p), p + ".lastTransitionTime");
      }
    }
    return pod;
  });
}

Result<PodDisruptionBudget> parse_pdb(const nlohmann::json& object) {
  return guarded<PodDisruptionBudget>("PodDisruptionBudget", object, [&](const Meta& meta) {
    PodDisruptionBudget pdb;
    pdb.ns = meta.ns;
    pdb.name = meta.name;
    pdb.selector = selector_at(member(member(&object, "spec", ""), "selector", "spec"), "spec.selector");
    pdb.disruptions_allowed =
        int_at(member(member(&object, "status", ""), "disruptionsAllowed", "status"), "status.disruptionsAllowed", 0);
    return pdb;
  });
}

Result<DaemonSet> parse_daemonset(const nlohmann::json& object) {
  return guarded<DaemonSet>("DaemonSet", object, [&](const Meta& meta) {
    DaemonSet ds;
    ds.ns = meta.ns;
    ds.name = meta.name;
    const json* spec = member(member(member(&object, "spec", ""), "template", "spec"), "spec", "spec.template");
    ds.pod = read_pod_spec(spec, "spec.template.spec");
    return ds;
  });
}

Result<ReplicaSet> parse_replicaset(const nlohmann::json& object) {
  return guarded<ReplicaSet>("ReplicaSet", object, [&](const Meta& meta) {
    ReplicaSet rs;
    rs.ns = meta.ns;
    rs.name = meta.name;
    read_owner(object, rs.owner_kind, rs.owner_name);
    return rs;
  });
}

Result<PersistentVolume> parse_persistent_volume(const nlohmann::json& object) {
  return guarded<PersistentVolume>("PersistentVolume", object, [&](const Meta& meta) {
    PersistentVolume pv;
    pv.name = meta.name;
    const json* spec = member(&object, "spec", "");
    const json* claim = member(spec, "claimRef", "spec");
    pv.claim_ns = string_at(member(claim, "namespace", "spec.claimRef"), "spec.claimRef.namespace");
    pv.claim_name = string_at(member(claim, "name", "spec.claimRef"), "spec.claimRef.name");
    const json* affinity = member(spec, "nodeAffinity", "spec");
    pv.node_affinity =
        node_selector_terms_at(member(affinity, "required", "spec.nodeAffinity"), "spec.nodeAffinity.required");
    static const char* const kSources[] = {"local", "hostPath", "csi", "nfs", "iscsi", "rbd", "cephfs",
                                           "awsElasticBlockStore", "gcePersistentDisk", "azureDisk"};
    for (const char* source : kSources) {
      if (member(spec, source, "spec") != nullptr) pv.source = source;
    }
    return pv;
  });
}

Result<PersistentVolumeClaim> parse_persistent_volume_claim(const nlohmann::json& object) {
  return guarded<PersistentVolumeClaim>("PersistentVolumeClaim", object, [&](const Meta& meta) {
    PersistentVolumeClaim pvc;
    pvc.ns = meta.ns;
    pvc.name = meta.name;
    pvc.volume_name = string_at(member(member(&object, "spec", ""), "volumeName", "spec"), "spec.volumeName");
    return pvc;
  });
}

namespace {

template <typename T>
Status add(Result<T> parsed, std::vector<T>& into) {
  if (!parsed) return parsed.error();
  into.push_back(std::move(*parsed));
  return Ok{};
}

Status add_object(const json& object, size_t i, ClusterSnapshot& snapshot) {
  const auto kind_it = object.is_object() ? object.find("kind") : object.end();
  if (!object.is_object() || kind_it == object.end() || !kind_it->is_string()) {
    return invalid_argument("item " + std::to_string(i) + ": not a Kubernetes object (no kind)");
  }
  const std::string kind = kind_it->get<std::string>();
  if (kind == "Node") return add(parse_node(object), snapshot.nodes);
  if (kind == "Pod") return add(parse_pod(object), snapshot.pods);
  if (kind == "PodDisruptionBudget") return add(parse_pdb(object), snapshot.pdbs);
  if (kind == "NodeGroup") return add(parse_node_group(object), snapshot.node_groups);
  if (kind == "DaemonSet") return add(parse_daemonset(object), snapshot.daemonsets);
  if (kind == "ReplicaSet") return add(parse_replicaset(object), snapshot.replicasets);
  if (kind == "PersistentVolume") return add(parse_persistent_volume(object), snapshot.persistent_volumes);
  if (kind == "PersistentVolumeClaim") {
    return add(parse_persistent_volume_claim(object), snapshot.persistent_volume_claims);
  }
  std::string name = "<unnamed>";
  const json* name_value = object_name(object);
  if (name_value != nullptr) name = name_value->get<std::string>();
  snapshot.notes.push_back("ignored " + kind + " " + name + ": not used by the planners");
  return Ok{};
}

Result<ClusterSnapshot> finish(ClusterSnapshot snapshot) {
  std::sort(snapshot.node_groups.begin(), snapshot.node_groups.end(),
            [](const NodeGroup& a, const NodeGroup& b) { return a.name < b.name; });
  for (size_t i = 1; i < snapshot.node_groups.size(); ++i) {
    if (snapshot.node_groups[i].name == snapshot.node_groups[i - 1].name) {
      return invalid_argument("NodeGroup " + snapshot.node_groups[i].name + ": listed twice");
    }
  }
  return snapshot;
}

}  // namespace

Result<ClusterSnapshot> parse_objects(const kube::SharedObjects& objects) {
  ClusterSnapshot snapshot;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (auto added = add_object(objects[i], i, snapshot); !added) return added.error();
  }
  return finish(std::move(snapshot));
}

Result<ClusterSnapshot> parse_snapshot(const nlohmann::json& document) {
  if (!document.is_object()) return invalid_argument("snapshot: expected a JSON object (a List or one object)");
  const auto items = document.find("items");
  if (items == document.end()) return parse_objects({document});
  if (!items->is_array()) return invalid_argument("snapshot: items: expected an array");
  ClusterSnapshot snapshot;
  for (size_t i = 0; i < items->size(); ++i) {
    if (auto added = add_object((*items)[i], i, snapshot); !added) return added.error();
  }
  return finish(std::move(snapshot));
}

Result<ClusterSnapshot> parse_snapshot_text(std::string_view text) {
  ClusterSnapshot snapshot;
  std::optional<Error> failed;
  bool in_items = false;
  size_t index = 0;
  // depth 0: the document; 1: its members (the items array); 2: the items themselves.
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      in_items = parsed.is_string() && parsed.get_ref<const std::string&>() == "items";
    } else if (event == json::parse_event_t::object_end && depth == 2 && in_items) {
      if (!failed) {
        if (auto added = add_object(parsed, index, snapshot); !added) failed = added.error();
      }
      ++index;
      return false;  // dropped: the model has what it needs
    } else if ((event == json::parse_event_t::value || event == json::parse_event_t::array_end) && depth == 2 &&
               in_items) {
      if (!failed) failed = invalid_argument("item " + std::to_string(index) + ": not a Kubernetes object (no kind)");
      ++index;
      return false;
    }
    return true;
  };
  if (auto nesting = check_json_nesting(text, "snapshot"); !nesting) return nesting.error();
  json document = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (document.is_discarded()) return invalid_argument("not valid JSON");
  if (failed) return *failed;
  if (!document.is_object()) return invalid_argument("snapshot: expected a JSON object (a List or one object)");
  const auto list = document.find("items");
  if (list == document.end()) return parse_snapshot(document);  // one object
  if (!list->is_array()) return invalid_argument("snapshot: items: expected an array");
  return finish(std::move(snapshot));
}

}  // namespace ballast::nodepool
