#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace ballast::kafka {

struct DeliveryErrors;

// librdkafka's mock cluster: real Kafka-protocol brokers on loopback, inside this process.
// Used by tests, benchmarks and `ballast demo`. Produces and commits through real
// librdkafka producer and consumer handles, as applications would. Thread-safe; the
// brokers stop when the object is destroyed.
class MockCluster {
 public:
  static Result<std::unique_ptr<MockCluster>> start(int brokers);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // Comma list of host:port, as `bootstrapServers` takes it.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return brokers_; }

  Status create_topic(const std::string& topic, int partitions);
  // Appends `count` messages to one partition and waits until the broker has them.
  Status produce(const std::string& topic, int32_t partition, int count);
  // Commits `offset` for the group as a consumer would (the next offset it will read).
  Status commit(const std::string& group, const std::string& topic, int32_t partition, int64_t offset);
  // Broker ids run from 1 to broker_count(). A down broker drops its connections and
  // refuses new ones; leadership does not move.
  Status set_broker_down(int32_t broker_id);
  Status set_broker_up(int32_t broker_id);
  // Makes `broker_id` the group's coordinator (by default the mock picks one by hash).
  Status set_group_coordinator(const std::string& group, int32_t broker_id);
  // Moves a partition's leadership, as the controller does when its leader's broker fails.
  Status set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id);
  // Metadata answers `error_code` for the topic from now on (3 UNKNOWN_TOPIC_OR_PART is what
  // Kafka answers once a topic is deleted); 0 clears it.
  void set_topic_error(const std::string& topic, int error_code);
  // The next request of the Kafka API `api_key` (whichever broker gets it) is answered
  // with `error_code` (a Kafka protocol error, e.g. 16 NOT_COORDINATOR) instead.
  void fail_next_request(int16_t api_key, int error_code);

 private:
  MockCluster();
  Result<rd_kafka_s*> committer(const std::string& group);  // caller holds mutex_

  int brokers_ = 0;
  rd_kafka_s* owner_ = nullptr;  // the handle the mock cluster belongs to
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_servers_;
  std::mutex mutex_;
  std::unique_ptr<DeliveryErrors> delivery_errors_;  // written by the producer's callback
  rd_kafka_s* producer_ = nullptr;
  std::map<std::string, rd_kafka_s*> committers_;  // one consumer handle per group
};

}  // namespace ballast::kafka
