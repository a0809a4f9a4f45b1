#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "nodepool/k8s_types.h"
#include "nodepool/node_group.h"

namespace ballast::nodepool {

// One way to grow the cluster that the scale-up simulated: `node_count` new nodes of one
// (group, offering) for `pod_count` pending pods (cluster-autoscaler's expander.Option).
struct ExpansionOption {
  const NodeGroup* group = nullptr;
  const Offering* offering = nullptr;
  int64_t node_count = 0;
  size_t pod_count = 0;
  Resources requested;  // sum of those pods' requests
};

// One rule that narrows the options to its best ones (cluster-autoscaler's
// expander.Filter). Returns a non-empty subset of a non-empty input, in input order.
class ExpanderFilter {
 public:
  virtual ~ExpanderFilter() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const = 0;
};

// `spec.priority`: the highest wins.
class PriorityFilter final : public ExpanderFilter {
 public:
  std::string_view name() const override { return "priority"; }
  std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const override;
};

// `spec.preferredOffering`: where a group's preferred offering places pods, the group's
// other offerings are dropped (they get the pods it cannot hold in later rounds).
class PreferredOfferingFilter final : public ExpanderFilter {
 public:
  std::string_view name() const override { return "preferred-offering"; }
  std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const override;
};

// The least idle CPU + memory on the new nodes against the offering's capacity (what the
// VM has and is billed for), as cluster-autoscaler's least-waste expander scores it:
// against allocatable, the reserve and DaemonSets would count as the pods' and favour
// small offerings, whose reserve is a larger share.
class LeastWasteFilter final : public ExpanderFilter {
 public:
  std::string_view name() const override { return "least-waste"; }
  std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const override;
  static double waste(const ExpansionOption& option);
};

// The lowest monthly price for the nodes the option adds.
class PriceFilter final : public ExpanderFilter {
 public:
  std::string_view name() const override { return "price"; }
  std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const override;
};

// The most pending pods placed.
class MostPodsFilter final : public ExpanderFilter {
 public:
  std::string_view name() const override { return "most-pods"; }
  std::vector<const ExpansionOption*> best(const std::vector<const ExpansionOption*>& options) const override;
};

// Filters applied in order; the first option left wins (cluster-autoscaler's chain of
// expanders with a fallback). Immutable once built; safe to share.
class Expander {
 public:
  explicit Expander(std::vector<std::unique_ptr<ExpanderFilter>> filters) : filters_(std::move(filters)) {}
  // priority → preferred offering → least waste → price → most pods (then input order:
  // group name, then the group's offering order).
  static const Expander& standard();
  // nullptr for no options.
  const ExpansionOption* choose(const std::vector<const ExpansionOption*>& options) const;

 private:
  std::vector<std::unique_ptr<ExpanderFilter>> filters_;
};

}  // namespace ballast::nodepool
