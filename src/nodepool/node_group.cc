#include "nodepool/node_group.h"

#include "nodepool/json_read.h"

namespace ballast::nodepool {

using namespace detail;

const Offering* NodeGroup::find_offering(const std::string& id) const {
  if (id.empty()) return offerings.empty() ? nullptr : &offerings.front();
  for (const auto& o : offerings) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

std::string delay_start_text(TimePoint started) {
  return format_micro_time(std::chrono::ceil<std::chrono::microseconds>(started));
}

namespace {

NodeGroup read_node_group(const json& object, const std::string& name) {
  NodeGroup g;
  g.name = name;
  const json* spec = member(&object, "spec", "");
  if (spec == nullptr) fail("spec", "required");
  g.min_nodes = int_at(member(spec, "minNodes", "spec"), "spec.minNodes", 0);
  g.max_nodes = int_at(member(spec, "maxNodes", "spec"), "spec.maxNodes", 0);
  if (g.min_nodes < 0) fail("spec.minNodes", "must be ≥ 0");
  if (g.max_nodes < g.min_nodes) fail("spec.maxNodes", "must be ≥ minNodes");
  const json& offerings = array_at(member(spec, "offerings", "spec"), "spec.offerings");
  for (size_t i = 0; i < offerings.size(); ++i) {
    const std::string p = index("spec.offerings", i);
    const json* o = &offerings[i];
    Offering off;
    off.id = string_at(member(o, "id", p), p + ".id");
    if (off.id.empty()) fail(p + ".id", "required");
    const json* cpu = member(o, "cpu", p);
    const json* memory = member(o, "memory", p);
    if (cpu == nullptr) fail(p + ".cpu", "required");
    if (memory == nullptr) fail(p + ".memory", "required");
    off.capacity.cpu_milli = milli_at(cpu, p + ".cpu", 0);
    off.capacity.memory_bytes = units_at(memory, p + ".memory", 0);
    off.capacity.pods = int_at(member(o, "maxPods", p), p + ".maxPods", 110);
    off.monthly_price = number_at(member(o, "monthlyPrice", p), p + ".monthlyPrice", 0);
    // A VM with no CPU, memory or pod slots would be planned as holding nothing (or, with
    // a negative count, as taking pods away): refused rather than bought.
    if (off.capacity.cpu_milli <= 0) fail(p + ".cpu", "must be > 0");
    if (off.capacity.memory_bytes <= 0) fail(p + ".memory", "must be > 0");
    if (off.capacity.pods < 1) fail(p + ".maxPods", "must be ≥ 1, got " + std::to_string(off.capacity.pods));
    if (!(off.monthly_price >= 0)) fail(p + ".monthlyPrice", "must be ≥ 0");
    if (g.find_offering(off.id) != nullptr) fail(p + ".id", "duplicate offering \"" + off.id + "\"");
    g.offerings.push_back(std::move(off));
  }
  if (g.offerings.empty() && g.max_nodes > 0) fail("spec.offerings", "at least one offering is required");
  g.labels = string_map_at(member(spec, "labels", "spec"), "spec.labels");
  g.taints = taints_at(member(spec, "taints", "spec"), "spec.taints");
  if (const json* reserved = member(spec, "reserved", "spec")) {
    g.reserved.cpu_milli = milli_at(member(reserved, "cpu", "spec.reserved"), "spec.reserved.cpu",
                                    g.reserved.cpu_milli);
    g.reserved.memory_bytes = units_at(member(reserved, "memory", "spec.reserved"), "spec.reserved.memory",
                                       g.reserved.memory_bytes);
  }
  g.priority = int_at(member(spec, "priority", "spec"), "spec.priority", 0);
  g.preferred_offering = string_at(member(spec, "preferredOffering", "spec"), "spec.preferredOffering");
  if (!g.preferred_offering.empty() && g.find_offering(g.preferred_offering) == nullptr) {
    fail("spec.preferredOffering", "names no offering of spec.offerings (\"" + g.preferred_offering + "\")");
  }
  if (const json* up = member(spec, "scaleUp", "spec")) {
    const std::string p = "spec.scaleUp";
    auto& u = g.scale_up;
    for (const auto& [key, seconds] : {std::pair{"podAgeSeconds", &u.pod_age_seconds},
                                       {"backoffSeconds", &u.backoff_seconds},
                                       {"sustainedSeconds", &u.sustained_seconds},
                                       {"cooldownSeconds", &u.cooldown_seconds}}) {
      *seconds = int_at(member(up, key, p), p + "." + key, *seconds);
      if (*seconds < 0) fail(p + "." + key, "must be ≥ 0");
    }
    if (const json* threshold = member(up, "utilizationThreshold", p)) {
      u.utilization_threshold = number_at(threshold, p + ".utilizationThreshold", 0);
      if (*u.utilization_threshold < 0 || *u.utilization_threshold > 1) {
        fail(p + ".utilizationThreshold", "must be within [0, 1]");
      }
    }
  }
  if (const json* down = member(spec, "scaleDown", "spec")) {
    const std::string p = "spec.scaleDown";
    auto& d = g.scale_down;
    d.enabled = bool_at(member(down, "enabled", p), p + ".enabled", d.enabled);
    d.utilization_threshold =
        number_at(member(down, "utilizationThreshold", p), p + ".utilizationThreshold", d.utilization_threshold);
    d.unneeded_seconds = int_at(member(down, "unneededSeconds", p), p + ".unneededSeconds", d.unneeded_seconds);
    d.delay_after_add_seconds =
        int_at(member(down, "delayAfterAddSeconds", p), p + ".delayAfterAddSeconds", d.delay_after_add_seconds);
    d.delay_after_failure_seconds = int_at(member(down, "delayAfterFailureSeconds", p),
                                           p + ".delayAfterFailureSeconds", d.delay_after_failure_seconds);
    d.max_graceful_termination_seconds = int_at(member(down, "maxGracefulTerminationSeconds", p),
                                                p + ".maxGracefulTerminationSeconds",
                                                d.max_graceful_termination_seconds);
    d.max_empty_bulk_delete =
        int_at(member(down, "maxEmptyBulkDelete", p), p + ".maxEmptyBulkDelete", d.max_empty_bulk_delete);
    d.unready_seconds = int_at(member(down, "unreadySeconds", p), p + ".unreadySeconds", d.unready_seconds);
    for (const auto& [key, value] : {std::pair{"unneededSeconds", d.unneeded_seconds},
                                     {"delayAfterAddSeconds", d.delay_after_add_seconds},
                                     {"delayAfterFailureSeconds", d.delay_after_failure_seconds},
                                     {"maxGracefulTerminationSeconds", d.max_graceful_termination_seconds},
                                     {"maxEmptyBulkDelete", d.max_empty_bulk_delete},
                                     {"unreadySeconds", d.unready_seconds}}) {
      if (value < 0) fail(p + "." + key, "must be ≥ 0");
    }
    if (d.utilization_threshold < 0 || d.utilization_threshold > 1) {
      fail(p + ".utilizationThreshold", "must be within [0, 1]");
    }
  }
  if (const json* timeout = member(spec, "provisionTimeoutSeconds", "spec")) {
    g.provision_timeout_seconds = int_at(timeout, "spec.provisionTimeoutSeconds", 0);
    if (*g.provision_timeout_seconds < 1) fail("spec.provisionTimeoutSeconds", "must be ≥ 1");
  }
  if (const json* status = member(&object, "status", "")) {
    auto& s = g.status;
    const json& in_flight = array_at(member(status, "inFlight", "status"), "status.inFlight");
    for (size_t i = 0; i < in_flight.size(); ++i) {
      const std::string p = index("status.inFlight", i);
      InFlightNode n;
      n.name = string_at(member(&in_flight[i], "name", p), p + ".name");
      n.offering = string_at(member(&in_flight[i], "offering", p), p + ".offering");
      n.requested_at = time_at(member(&in_flight[i], "requestedAt", p), p + ".requestedAt");
      n.request_id = string_at(member(&in_flight[i], "requestId", p), p + ".requestId");
      n.provider_id = string_at(member(&in_flight[i], "providerId", p), p + ".providerId");
      n.node = string_at(member(&in_flight[i], "node", p), p + ".node");
      if (g.find_offering(n.offering) == nullptr) fail(p + ".offering", "unknown offering \"" + n.offering + "\"");
      s.in_flight.push_back(std::move(n));
    }
    s.last_scale_up = time_at(member(member(status, "lastScaleUp", "status"), "time", "status.lastScaleUp"),
                              "status.lastScaleUp.time");
    s.last_scale_down_failure =
        time_at(member(member(status, "lastScaleDownFailure", "status"), "time", "status.lastScaleDownFailure"),
                "status.lastScaleDownFailure.time");
    s.last_scale_up_failure =
        time_at(member(member(status, "lastScaleUpFailure", "status"), "time", "status.lastScaleUpFailure"),
                "status.lastScaleUpFailure.time");
    s.pressure_since = time_at(member(status, "pressureSince", "status"), "status.pressureSince");
    const json& nodes = array_at(member(status, "nodes", "status"), "status.nodes");
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string p = index("status.nodes", i);
      NodeStatusEntry n;
      n.name = string_at(member(&nodes[i], "name", p), p + ".name");
      n.unneeded_since = time_at(member(&nodes[i], "unneededSince", p), p + ".unneededSince");
      n.provider_id = string_at(member(&nodes[i], "providerId", p), p + ".providerId");
      n.offering = string_at(member(&nodes[i], "offering", p), p + ".offering");
      s.nodes.push_back(std::move(n));
    }
  }
  return g;
}

}  // namespace

Result<NodeGroup> parse_node_group(const nlohmann::json& object) {
  std::string name;
  try {
    name = string_at(member(member(&object, "metadata", ""), "name", "metadata"), "metadata.name");
    if (name.empty()) return invalid_argument("NodeGroup without metadata.name");
    return read_node_group(object, name);
  } catch (const std::exception& e) {
    return invalid_argument("NodeGroup " + (name.empty() ? std::string("<unnamed>") : name) + ": " + e.what());
  }
}

}  // namespace ballast::nodepool
