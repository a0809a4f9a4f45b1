#include "nodepool/expander.h"

#include <algorithm>
#include <cmath>

namespace ballast::nodepool {
namespace {

// Scores within this of the best count as equal (float noise, not a preference).
constexpr double kTie = 1e-9;

// The options whose score is lowest (ties within kTie kept), in input order.
template <typename Score>
std::vector<const ExpansionOption*> lowest(const std::vector<const ExpansionOption*>& options, Score score) {
  std::vector<double> scores;
  scores.reserve(options.size());
  for (const auto* o : options) scores.push_back(score(*o));
  const double min = *std::min_element(scores.begin(), scores.end());
  std::vector<const ExpansionOption*> out;
  for (size_t i = 0; i < options.size(); ++i) {
    if (scores[i] - min <= kTie) out.push_back(options[i]);
  }
  return out;
}

}  // namespace

std::vector<const ExpansionOption*> PriorityFilter::best(const std::vector<const ExpansionOption*>& options) const {
  return lowest(options, [](const ExpansionOption& o) { return -double(o.group->priority); });
}

std::vector<const ExpansionOption*> PreferredOfferingFilter::best(
    const std::vector<const ExpansionOption*>& options) const {
  const auto preferred = [](const ExpansionOption& o) { return o.offering->id == o.group->preferred_offering; };
  std::vector<const ExpansionOption*> out;
  for (const auto* o : options) {
    const bool outranked = !preferred(*o) && std::any_of(options.begin(), options.end(), [&](const ExpansionOption* p) {
      return p->group == o->group && preferred(*p);
    });
    if (!outranked) out.push_back(o);
  }
  return out;
}

double LeastWasteFilter::waste(const ExpansionOption& o) {
  const double count = double(o.node_count);
  const double cpu = count * double(o.offering->capacity.cpu_milli);
  const double mem = count * double(o.offering->capacity.memory_bytes);
  return (cpu > 0 ? (cpu - double(o.requested.cpu_milli)) / cpu : 0) +
         (mem > 0 ? (mem - double(o.requested.memory_bytes)) / mem : 0);
}

std::vector<const ExpansionOption*> LeastWasteFilter::best(const std::vector<const ExpansionOption*>& options) const {
  return lowest(options, &LeastWasteFilter::waste);
}

std::vector<const ExpansionOption*> PriceFilter::best(const std::vector<const ExpansionOption*>& options) const {
  return lowest(options, [](const ExpansionOption& o) { return o.offering->monthly_price * double(o.node_count); });
}

std::vector<const ExpansionOption*> MostPodsFilter::best(const std::vector<const ExpansionOption*>& options) const {
  return lowest(options, [](const ExpansionOption& o) { return -double(o.pod_count); });
}

const Expander& Expander::standard() {
  static const Expander expander = [] {
    std::vector<std::unique_ptr<ExpanderFilter>> filters;
    filters.push_back(std::make_unique<PriorityFilter>());
    filters.push_back(std::make_unique<PreferredOfferingFilter>());
    filters.push_back(std::make_unique<LeastWasteFilter>());
    filters.push_back(std::make_unique<PriceFilter>());
    filters.push_back(std::make_unique<MostPodsFilter>());
    return Expander(std::move(filters));
  }();
  return expander;
}

const ExpansionOption* Expander::choose(const std::vector<const ExpansionOption*>& options) const {
  if (options.empty()) return nullptr;
  std::vector<const ExpansionOption*> left = options;
  for (const auto& filter : filters_) {
    if (left.size() == 1) break;
    left = filter->best(left);
  }
  return left.front();
}

}  // namespace ballast::nodepool
