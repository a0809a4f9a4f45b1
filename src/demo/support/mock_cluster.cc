#include "demo/support/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>

namespace ballast::kafka {

// Delivery failures of the producer, counted by its delivery-report callback (which runs
// inside rd_kafka_flush, on the thread calling produce()).
struct DeliveryErrors {
  std::atomic<int> count{0};
  std::atomic<rd_kafka_resp_err_t> last{RD_KAFKA_RESP_ERR_NO_ERROR};
};

namespace {

constexpr int kTimeoutMs = 10'000;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* errors = static_cast<DeliveryErrors*>(opaque);
  errors->last = message->err;
  ++errors->count;
}

Result<rd_kafka_t*> new_handle(rd_kafka_type_t type, const std::map<std::string, std::string>& settings,
                               DeliveryErrors* delivery_errors = nullptr) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return io_error("mock cluster: " + std::string(error));
    }
  }
  if (delivery_errors) {
    rd_kafka_conf_set_opaque(conf, delivery_errors);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof(error));  // takes conf on success
  if (!handle) {
    rd_kafka_conf_destroy(conf);
    return io_error("mock cluster: " + std::string(error));
  }
  return handle;
}

}  // namespace

MockCluster::MockCluster() : delivery_errors_(std::make_unique<DeliveryErrors>()) {}

Result<std::unique_ptr<MockCluster>> MockCluster::start(int brokers) {
  if (brokers < 1) return invalid_argument("mock cluster needs at least one broker");
  std::unique_ptr<MockCluster> cluster(new MockCluster());
  cluster->brokers_ = brokers;
  // Quiet: the mock's handles are test plumbing; their failures come back as Status.
  // The mock brokers' connections take the owner's socket settings. Kafka brokers set
  // TCP_NODELAY on every connection they accept; without it the mock holds a pipelined
  // response behind Nagle until the client's delayed ACK (40 ms on Linux), a stall no real
  // broker adds.
  auto owner = new_handle(RD_KAFKA_PRODUCER, {{"log_level", "0"}, {"socket.nagle.disable", "true"}});
  if (!owner) return owner.error();
  cluster->owner_ = *owner;
  cluster->cluster_ = rd_kafka_mock_cluster_new(cluster->owner_, brokers);
  if (!cluster->cluster_) return io_error("mock cluster: rd_kafka_mock_cluster_new failed");
  cluster->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(cluster->cluster_);
  auto producer = new_handle(RD_KAFKA_PRODUCER,
                             {{"bootstrap.servers", cluster->bootstrap_servers_}, {"log_level", "0"}, {"linger.ms", "0"}},
                             cluster->delivery_errors_.get());
  if (!producer) return producer.error();
  cluster->producer_ = *producer;
  return cluster;
}

MockCluster::~MockCluster() {
  for (auto& [group, handle] : committers_) rd_kafka_destroy(handle);
  if (producer_) rd_kafka_destroy(producer_);
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (owner_) rd_kafka_destroy(owner_);
}

Status MockCluster::create_topic(const std::string& topic, int partitions) {
  const auto err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, std::min(brokers_, 3));
  if (err) return io_error("create topic " + topic + ": " + rd_kafka_err2str(err));
  return Ok{};
}

Status MockCluster::produce(const std::string& topic, int32_t partition, int count) {
  std::lock_guard lock(mutex_);
  auto& errors = *delivery_errors_;
  errors.count = 0;
  static constexpr char kPayload[] = "ballast";
  for (int i = 0; i < count; ++i) {
    const auto err = rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_VALUE(const_cast<char*>(kPayload), sizeof(kPayload) - 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err) return io_error("produce to " + topic + ": " + rd_kafka_err2str(err));
  }
  if (const auto err = rd_kafka_flush(producer_, kTimeoutMs)) {
    return io_error("produce to " + topic + ": " + rd_kafka_err2str(err));
  }
  if (errors.count > 0) return io_error("produce to " + topic + ": " + rd_kafka_err2str(errors.last));
  return Ok{};
}

Result<rd_kafka_t*> MockCluster::committer(const std::string& group) {
  if (const auto it = committers_.find(group); it != committers_.end()) return it->second;
  auto handle = new_handle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap_servers_},
                                               {"group.id", group},
                                               {"enable.auto.commit", "false"},
                                               {"log_level", "0"}});
  if (!handle) return handle.error();
  committers_.emplace(group, *handle);
  return *handle;
}

Status MockCluster::commit(const std::string& group, const std::string& topic, int32_t partition, int64_t offset) {
  std::lock_guard lock(mutex_);
  auto handle = committer(group);
  if (!handle) return handle.error();
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = offset;
  // Synchronous: the offset is stored on the coordinator when this returns.
  const auto err = rd_kafka_commit(*handle, offsets, 0);
  rd_kafka_topic_partition_list_destroy(offsets);
  if (err) return io_error("commit " + group + " " + topic + ": " + rd_kafka_err2str(err));
  return Ok{};
}

void MockCluster::fail_next_request(int16_t api_key, int error_code) {
  const auto error = static_cast<rd_kafka_resp_err_t>(error_code);
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, 1, &error);
}

Status MockCluster::set_broker_down(int32_t broker_id) {
  if (const auto err = rd_kafka_mock_broker_set_down(cluster_, broker_id)) {
    return io_error("broker " + std::to_string(broker_id) + " down: " + rd_kafka_err2str(err));
  }
  return Ok{};
}

Status MockCluster::set_broker_up(int32_t broker_id) {
  if (const auto err = rd_kafka_mock_broker_set_up(cluster_, broker_id)) {
    return io_error("broker " + std::to_string(broker_id) + " up: " + rd_kafka_err2str(err));
  }
  return Ok{};
}

Status MockCluster::set_group_coordinator(const std::string& group, int32_t broker_id) {
  if (const auto err = rd_kafka_mock_coordinator_set(cluster_, "group", group.c_str(), broker_id)) {
    return io_error("coordinator of " + group + ": " + rd_kafka_err2str(err));
  }
  return Ok{};
}

Status MockCluster::set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id) {
  if (const auto err = rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker_id)) {
    return io_error("leader of " + topic + "[" + std::to_string(partition) + "]: " + rd_kafka_err2str(err));
  }
  return Ok{};
}

void MockCluster::set_topic_error(const std::string& topic, int error_code) {
  rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), static_cast<rd_kafka_resp_err_t>(error_code));
}

}  // namespace ballast::kafka
