#include "sources/kafka/wake_plan.h"

#include <catch2/catch.hpp>

#include "sources/kafka/produce_watcher.h"

using namespace ballast;
using namespace ballast::kafka;
using scaler::PartitionRange;

namespace {

WakeCandidate waiting(std::string key, std::string topic, std::vector<PartitionRange> partitions = {}) {
  return {std::move(key), std::move(topic), std::move(partitions), true, true};
}

std::string setting(const ClientSettings& settings, const std::string& name) {
  for (const auto& [key, value] : settings) {
    if (key == name) return value;
  }
  return "<unset>";
}

}  // namespace

TEST_CASE("a key is watched only while a stream waits for it, it has a topic and did not opt out", "[wake]") {
  CHECK(should_watch(waiting("k", "orders")));
  auto no_stream = waiting("k", "orders");
  no_stream.awaiting_activation = false;  // polled-only (type: external) or already active
  CHECK_FALSE(should_watch(no_stream));
  auto opted_out = waiting("k", "orders");
  opted_out.wake_on_produce = false;
  CHECK_FALSE(should_watch(opted_out));
  CHECK_FALSE(should_watch(waiting("k", "")));  // topic-less: its topics come from commits
}

TEST_CASE("keys on one topic share one entry of the wake set, whatever their groups", "[wake]") {
  auto active = waiting("c", "orders");
  active.awaiting_activation = false;
  const auto wake = plan_wake({waiting("b", "orders"), waiting("a", "orders"), active, waiting("d", "refunds")});
  REQUIRE(wake.size() == 2);
  CHECK(wake.at("orders") == std::vector<WakeKey>{{"a", {}}, {"b", {}}});
  CHECK(wake.at("refunds") == std::vector<WakeKey>{{"d", {}}});
  CHECK(plan_wake({active}).empty());
}

TEST_CASE("the assignment is the union of the partitions waiting keys select", "[wake]") {
  const auto wake = plan_wake({waiting("a", "orders", {{0, 0}}), waiting("b", "orders", {{2, 3}}),
                               waiting("c", "refunds"), waiting("d", "not-yet-described")});
  const std::map<std::string, std::vector<int32_t>> metadata = {
      {"orders", {0, 1, 2, 3, 4}}, {"refunds", {0, 1}}, {"unwatched", {0}}};
  CHECK(wanted_partitions(wake, metadata) ==
        std::set<TopicPartition>{{"orders", 0}, {"orders", 2}, {"orders", 3}, {"refunds", 0}, {"refunds", 1}});
}

TEST_CASE("partitions added to a topic join the assignment on the next metadata", "[wake]") {
  const auto wake = plan_wake({waiting("a", "orders")});
  const auto before = wanted_partitions(wake, {{"orders", {0, 1}}});
  const auto after = wanted_partitions(wake, {{"orders", {0, 1, 2, 3}}});
  const auto diff = diff_assignment(before, after);
  CHECK(diff.start == std::vector<TopicPartition>{{"orders", 2}, {"orders", 3}});
  CHECK(diff.stop.empty());
}

TEST_CASE("the assignment diff starts what is new and stops what is no longer wanted", "[wake]") {
  const std::set<TopicPartition> current = {{"orders", 0}, {"orders", 1}, {"refunds", 0}};
  const std::set<TopicPartition> wanted = {{"orders", 1}, {"orders", 2}};
  const auto diff = diff_assignment(current, wanted);
  CHECK(diff.start == std::vector<TopicPartition>{{"orders", 2}});
  CHECK(diff.stop == std::vector<TopicPartition>{{"orders", 0}, {"refunds", 0}});
  CHECK(diff_assignment(wanted, wanted).empty());
}

TEST_CASE("a new partition starts at the high watermark the poller last read, else at the log end", "[wake]") {
  const ReadHighWatermarks read = {{{"orders", 0}, 42}, {{"orders", 1}, 0}};
  const struct {
    TopicPartition partition;
    std::optional<int64_t> start;
  } cases[] = {
      {{"orders", 0}, 42},
      {{"orders", 1}, 0},               // an empty partition starts at its first message
      {{"orders", 2}, std::nullopt},    // never read: the log end
      {{"refunds", 0}, std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.partition.first << "[" << c.partition.second << "]");
    CHECK(start_offset(read, c.partition) == c.start);
  }
}

TEST_CASE("a message wakes exactly the keys that read its partition", "[wake]") {
  const auto wake = plan_wake({waiting("a", "orders", {{0, 0}}), waiting("b", "orders"), waiting("c", "refunds")});
  CHECK(keys_woken_by(wake, {"orders", 0}) == std::vector<std::string>{"a", "b"});
  CHECK(keys_woken_by(wake, {"orders", 5}) == std::vector<std::string>{"b"});
  CHECK(keys_woken_by(wake, {"refunds", 1}) == std::vector<std::string>{"c"});
  CHECK(keys_woken_by(wake, {"other", 0}).empty());
}

TEST_CASE("the watcher's client has no group, commits nothing and fetches tiny and long", "[wake]") {
  const ClientSettings cluster = {{"bootstrap.servers", "k:9092"}, {"client.id", "ballast"},
                                  {"group.id", "ballast-lag-reader"}, {"security.protocol", "ssl"}};
  const auto settings = ProduceWatcher::watcher_settings(cluster);
  CHECK(setting(settings, "group.id") == "<unset>");
  CHECK(setting(settings, "bootstrap.servers") == "k:9092");
  CHECK(setting(settings, "security.protocol") == "ssl");
  CHECK(setting(settings, "client.id") == "ballast-wake");
  CHECK(setting(settings, "enable.auto.commit") == "false");
  CHECK(setting(settings, "enable.auto.offset.store") == "false");
  CHECK(setting(settings, "fetch.min.bytes") == "1");
  CHECK(std::stoi(setting(settings, "fetch.wait.max.ms")) >= 500);
  CHECK(std::stoi(setting(settings, "max.partition.fetch.bytes")) <= 4096);
  CHECK(std::stoi(setting(settings, "fetch.max.bytes")) <= 4096);
}
