#include "nodepool/plan_report.h"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace ballast::nodepool {

using json = nlohmann::json;

Plan make_plan(const ClusterSnapshot& cluster, TimePoint now) {
  Plan plan;
  plan.now = now;
  plan.notes = cluster.notes;
  plan.scale_up = plan_scale_up(cluster, now);
  ScaleDownOptions options;
  for (const auto& g : plan.scale_up.groups) {
    if (g.nodes_to_add() > 0) options.groups_scaling_up.insert(g.group);
  }
  options.pending_placements = plan.scale_up.fits_existing;
  plan.scale_down = plan_scale_down(cluster, now, options);
  return plan;
}

std::string format_cpu(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

std::string format_memory(int64_t bytes) {
  constexpr int64_t kMi = 1024 * 1024;
  constexpr int64_t kGi = kMi * 1024;
  if (bytes != 0 && bytes % kGi == 0) return std::to_string(bytes / kGi) + "Gi";
  if (bytes % kMi == 0) return std::to_string(bytes / kMi) + "Mi";
  return std::to_string(bytes);
}

namespace {

json resources_json(const Resources& r) {
  return {{"cpuMillis", r.cpu_milli}, {"memoryBytes", r.memory_bytes}, {"pods", r.pods}};
}

double rounded(double v) { return std::round(v * 1000.0) / 1000.0; }

json blocker_json(const Blocker& b) {
  json out{{"code", block_code(b.reason)}, {"message", b.message}};
  if (!b.pod.empty()) out["pod"] = b.pod;
  if (!b.pdb.empty()) out["pdb"] = b.pdb;
  return out;
}

const NodeGroup* group_spec(const ClusterSnapshot& cluster, const std::string& name) {
  for (const auto& g : cluster.node_groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::string describe(const Resources& r) {
  return format_cpu(r.cpu_milli) + " cpu, " + format_memory(r.memory_bytes) + " memory";
}

std::string percent(double v) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(0) << v * 100 << "%";
  return out.str();
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

}  // namespace

json plan_to_json(const Plan& plan, const ClusterSnapshot& cluster) {
  json groups = json::array();
  int64_t total_add = 0;
  int64_t total_remove = 0;
  for (const auto& up : plan.scale_up.groups) {
    const NodeGroup* spec = group_spec(cluster, up.group);
    const GroupScaleDown* down = plan.scale_down.find(up.group);
    const int64_t remove = down != nullptr ? static_cast<int64_t>(down->remove.size()) : 0;
    total_add += up.nodes_to_add();
    total_remove += remove;
    json offerings = json::array();
    for (const auto& o : up.add) {
      json nodes = json::array();
      for (const auto& n : o.nodes) {
        json pods = json::array();
        for (const auto& p : n.pods) pods.push_back(p.str());
        nodes.push_back({{"pods", pods}, {"requests", resources_json(n.requested)}});
      }
      offerings.push_back({{"offering", o.offering},
                           {"count", o.nodes.size()},
                           {"allocatable", resources_json(o.allocatable)},
                           {"nodes", nodes}});
    }
    json scale_up{{"nodesToAdd", up.nodes_to_add()}, {"offerings", offerings}};
    if (up.min_nodes_add > 0) {
      scale_up["forMinNodes"] = {{"offering", up.min_nodes_offering}, {"count", up.min_nodes_add}};
    }
    json scale_down{{"blockedBy", json::array()}, {"remove", json::array()}, {"nodes", json::array()}};
    if (down != nullptr) {
      for (const auto& b : down->group_blockers) scale_down["blockedBy"].push_back(blocker_json(b));
      scale_down["remove"] = down->remove;
      for (const auto& n : down->nodes) {
        json node{{"name", n.node},
                  {"state", node_state_code(n.state)},
                  {"utilization", rounded(n.utilization)},
                  {"cpuUtilization", rounded(n.cpu_utilization)},
                  {"memoryUtilization", rounded(n.memory_utilization)},
                  {"empty", n.empty},
                  {"unneededSince", n.unneeded_since ? json(format_time(*n.unneeded_since)) : json(nullptr)},
                  {"moves", json::array()},
                  {"blockers", json::array()}};
        if (n.not_ready_since) node["notReadySince"] = format_time(*n.not_ready_since);
        for (const auto& m : n.moves) node["moves"].push_back({{"pod", m.pod.str()}, {"to", m.to}});
        for (const auto& b : n.blockers) node["blockers"].push_back(blocker_json(b));
        scale_down["nodes"].push_back(std::move(node));
      }
    }
    groups.push_back({{"name", up.group},
                      {"minNodes", spec != nullptr ? spec->min_nodes : 0},
                      {"maxNodes", spec != nullptr ? spec->max_nodes : 0},
                      {"currentNodes", up.current_nodes},
                      {"inFlight", up.in_flight},
                      {"targetNodes", up.target_nodes() - remove},
                      {"scaleUp", scale_up},
                      {"scaleDown", scale_down}});
  }
  json fits = json::array();
  for (const auto& f : plan.scale_up.fits_existing) {
    fits.push_back({{"pod", f.pod.str()}, {"node", f.node}, {"inFlight", f.in_flight}});
  }
  json waiting = json::array();
  for (const auto& w : plan.scale_up.waiting) waiting.push_back(w.str());
  json unplaceable = json::array();
  for (const auto& u : plan.scale_up.unplaced) {
    json reasons = json::array();
    for (const auto& r : u.rejections) {
      json reason{{"group", r.group}, {"code", r.code}, {"message", r.message}};
      if (!r.offering.empty()) reason["offering"] = r.offering;
      reasons.push_back(std::move(reason));
    }
    unplaceable.push_back({{"pod", u.pod.str()}, {"requests", resources_json(u.requests)}, {"reasons", reasons}});
  }
  return {{"apiVersion", "ballast.dev/v1alpha1"},
          {"kind", "NodePoolPlan"},
          {"now", format_time(plan.now)},
          {"notes", plan.notes},
          {"summary",
           {{"pendingPods", plan.scale_up.pending_considered},
            {"fitExisting", plan.scale_up.fits_existing.size()},
            {"waiting", plan.scale_up.waiting.size()},
            {"unplaceable", plan.scale_up.unplaced.size()},
            {"nodesToAdd", total_add},
            {"nodesToRemove", total_remove}}},
          {"groups", groups},
          {"pending", {{"fitExisting", fits}, {"waiting", waiting}, {"unplaceable", unplaceable}}}};
}

std::string plan_to_table(const Plan& plan, const ClusterSnapshot& cluster) {
  std::ostringstream out;
  const auto& up = plan.scale_up;
  out << "plan at " << format_time(plan.now) << ": " << up.pending_considered << " unschedulable pods ("
      << up.fits_existing.size() << " fit existing nodes, " << up.waiting.size() << " waiting, "
      << up.unplaced.size() << " fit nowhere)\n\n";
  out << pad("NODEGROUP", 20) << pad("MIN", 5) << pad("MAX", 5) << pad("CURRENT", 9) << pad("IN-FLIGHT", 11)
      << pad("ADD", 5) << pad("REMOVE", 8) << "RESULT\n";
  for (const auto& g : up.groups) {
    const NodeGroup* spec = group_spec(cluster, g.group);
    const GroupScaleDown* down = plan.scale_down.find(g.group);
    const int64_t remove = down != nullptr ? static_cast<int64_t>(down->remove.size()) : 0;
    out << pad(g.group, 20) << pad(std::to_string(spec ? spec->min_nodes : 0), 5)
        << pad(std::to_string(spec ? spec->max_nodes : 0), 5) << pad(std::to_string(g.current_nodes), 9)
        << pad(std::to_string(g.in_flight), 11) << pad(std::to_string(g.nodes_to_add()), 5)
        << pad(std::to_string(remove), 8) << g.target_nodes() - remove << "\n";
  }

  out << "\nScale-up\n";
  bool any_up = false;
  for (const auto& g : up.groups) {
    for (const auto& o : g.add) {
      any_up = true;
      out << "  " << g.group << ": +" << o.nodes.size() << " " << o.offering << " (new node allocatable "
          << describe(o.allocatable) << ", " << o.allocatable.pods << " pods)\n";
      for (size_t i = 0; i < o.nodes.size(); ++i) {
        out << "    node " << i + 1 << " (" << describe(o.nodes[i].requested) << "):";
        for (const auto& p : o.nodes[i].pods) out << " " << p.str();
        out << "\n";
      }
    }
    if (g.min_nodes_add > 0) {
      any_up = true;
      out << "  " << g.group << ": +" << g.min_nodes_add << " " << g.min_nodes_offering << " to reach minNodes\n";
    }
  }
  if (!any_up) out << "  no nodes to add\n";
  if (!up.fits_existing.empty()) {
    out << "  pending pods that fit existing capacity:\n";
    for (const auto& f : up.fits_existing) {
      out << "    " << f.pod.str() << " -> " << f.node << (f.in_flight ? " (in flight)" : "") << "\n";
    }
  }
  if (!up.waiting.empty()) {
    out << "  waiting (younger than scaleUp.podAgeSeconds):";
    for (const auto& w : up.waiting) out << " " << w.str();
    out << "\n";
  }
  if (!up.unplaced.empty()) {
    out << "  pods that fit nowhere:\n";
    for (const auto& u : up.unplaced) {
      out << "    " << u.pod.str() << " (requests " << describe(u.requests) << ")\n";
      if (u.rejections.empty()) out << "      no NodeGroups in the snapshot\n";
      for (const auto& r : u.rejections) {
        out << "      " << r.group << (r.offering.empty() ? "" : "/" + r.offering) << ": " << r.code << ": "
            << r.message << "\n";
      }
    }
  }

  out << "\nScale-down\n";
  for (const auto& g : plan.scale_down.groups) {
    out << "  " << g.group << ":";
    if (g.remove.empty()) {
      out << " nothing to remove\n";
    } else {
      out << " remove";
      for (const auto& r : g.remove) out << " " << r;
      out << "\n";
    }
    for (const auto& b : g.group_blockers) out << "    group: " << block_code(b.reason) << ": " << b.message << "\n";
    if (g.nodes.empty()) continue;
    out << "    " << pad("NODE", 24) << pad("STATE", 10) << pad("UTIL", 6) << "REASONS\n";
    for (const auto& n : g.nodes) {
      out << "    " << pad(n.node, 24) << pad(node_state_code(n.state), 10) << pad(percent(n.utilization), 6);
      if (n.blockers.empty()) {
        out << (n.state == NodeState::kNeeded ? "above the utilization threshold"
                : n.not_ready_since           ? "not Ready since " + format_time(*n.not_ready_since) + ": delete"
                : n.empty                     ? std::string("empty")
                                              : std::string("drain, then remove"));
      }
      for (size_t i = 0; i < n.blockers.size(); ++i) {
        if (i > 0) out << "\n    " << std::string(40, ' ');
        out << block_code(n.blockers[i].reason) << ": " << n.blockers[i].message;
      }
      out << "\n";
      for (const auto& m : n.moves) out << "      move " << m.pod.str() << " -> " << m.to << "\n";
    }
  }
  if (!plan.notes.empty()) {
    out << "\nNotes\n";
    for (const auto& n : plan.notes) out << "  " << n << "\n";
  }
  return out.str();
}

}  // namespace ballast::nodepool
