#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ballast::kafka {

// Which broker each consumer group's committed offsets are asked of. ballast names the
// broker itself instead of letting librdkafka look the group coordinator up: librdkafka's
// lookup for admin requests (2.0.2, and every release up to its open PR #5397) aborts the
// process in rd_kafka_enq_once_del_source_return when a request timed out while it waited
// for the coordinator and the coordinator then comes back (a broker restart).
// The coordinator is found by asking: a broker that answers NOT_COORDINATOR, or does not
// answer, hands the group on to the next broker id of the cluster's metadata.
// Owned by a ClusterPoller; used on its thread only.
class Coordinators {
 public:
  // `brokers`: the cluster's broker ids from its latest metadata, sorted, not empty.
  // The broker that answered last, while it is still in the cluster; else the first one.
  int32_t broker_for(const std::string& group, const std::vector<int32_t>& brokers) const;
  void answered(const std::string& group, int32_t broker);
  // `broker` is not (or no longer) the group's coordinator, or did not answer: returns the
  // broker to ask next, the one after it in id order (wrapping), and remembers it.
  int32_t move_on(const std::string& group, int32_t broker, const std::vector<int32_t>& brokers);

 private:
  std::map<std::string, int32_t> broker_of_;
};

}  // namespace ballast::kafka
