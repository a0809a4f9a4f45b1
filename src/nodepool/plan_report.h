#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodepool/cluster_model.h"
#include "nodepool/scale_down_planner.h"
#include "nodepool/scale_up_planner.h"

namespace ballast::nodepool {

// Both decisions for one snapshot at one instant (what `ballast plan` prints and the
// node-pool reconciler acts on).
struct Plan {
  TimePoint now;
  ScaleUpPlan scale_up;
  ScaleDownPlan scale_down;
  std::vector<std::string> notes;  // from parsing: skipped objects
};

// Scale-up first; groups it grows are not scaled down in the same pass.
Plan make_plan(const ClusterSnapshot& cluster, TimePoint now);

// The stable JSON document of `ballast plan --output json` (schema: README.md,
// apiVersion ballast.dev/v1alpha1, kind NodePoolPlan).
nlohmann::json plan_to_json(const Plan& plan, const ClusterSnapshot& cluster);

// The same for people.
std::string plan_to_table(const Plan& plan, const ClusterSnapshot& cluster);

// "3900m", "7936Mi" / "8Gi" / bytes.
std::string format_cpu(int64_t milli);
std::string format_memory(int64_t bytes);

}  // namespace ballast::nodepool
