#include "sources/kafka/coordinators.h"

#include <algorithm>

namespace ballast::kafka {

int32_t Coordinators::broker_for(const std::string& group, const std::vector<int32_t>& brokers) const {
  const auto known = broker_of_.find(group);
  if (known != broker_of_.end() && std::binary_search(brokers.begin(), brokers.end(), known->second)) {
    return known->second;
  }
  return brokers.front();
}

void Coordinators::answered(const std::string& group, int32_t broker) { broker_of_[group] = broker; }

int32_t Coordinators::move_on(const std::string& group, int32_t broker, const std::vector<int32_t>& brokers) {
  const auto after = std::upper_bound(brokers.begin(), brokers.end(), broker);
  const int32_t next = after == brokers.end() ? brokers.front() : *after;
  broker_of_[group] = next;
  return next;
}

}  // namespace ballast::kafka
