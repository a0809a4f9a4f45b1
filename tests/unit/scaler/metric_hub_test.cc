#include "scaler/metric_hub.h"

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"

using namespace ballast;
using namespace ballast::scaler;
using namespace std::chrono_literals;

TEST_CASE("a key is tracked once, so its source starts once", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  CHECK(hub.track("k"));
  CHECK_FALSE(hub.track("k"));
}

TEST_CASE("a key with no value yet is UNAVAILABLE, never zero", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.track("k");
  auto read = hub.read("k", 30s);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(hub.read("unknown", 30s).ok());
}

TEST_CASE("staleness is judged against each reader's maxStaleness", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.publish("k", 7);
  struct Row {
    std::chrono::seconds elapsed;
    std::chrono::seconds max_staleness;
    bool fresh;
  };
  const Row rows[] = {{0s, 30s, true}, {30s, 30s, true}, {31s, 30s, false}, {31s, 60s, true}, {61s, 60s, false}};
  for (const auto& row : rows) {
    testing::FakeClock local;
    MetricHub aged(local);
    aged.publish("k", 7);
    local.advance(row.elapsed);
    auto read = aged.read("k", row.max_staleness);
    INFO("elapsed " << row.elapsed.count() << "s, maxStaleness " << row.max_staleness.count() << "s");
    CHECK(read.ok() == row.fresh);
    if (read.ok()) CHECK(read->value == 7);
    if (!read.ok()) CHECK(read.error().code == ErrorCode::kUnavailable);
  }
}

TEST_CASE("errors keep the last good value until it goes stale, then explain themselves", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.publish("k", 5);
  clock.advance(10s);
  hub.publish_error("k", "connection refused");
  auto still_good = hub.read("k", 30s);
  REQUIRE(still_good.ok());
  CHECK(still_good->value == 5);
  clock.advance(25s);
  auto stale = hub.read("k", 30s);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().message.find("connection refused") != std::string::npos);
  const auto status = hub.status();
  REQUIRE(status.size() == 1);
  CHECK(status[0].errors == 1);
  CHECK(status[0].age_seconds == Approx(35));
}

TEST_CASE("a fresh publish clears the last error", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.publish_error("k", "down");
  hub.publish("k", 1);
  CHECK(hub.status()[0].last_error.empty());
  CHECK(hub.read("k", 1s).ok());
}

TEST_CASE("subscribers hear every publish of their key until they unsubscribe", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  std::vector<double> heard;
  auto subscription = hub.subscribe("k", [&heard](const Sample& sample) { heard.push_back(sample.value); });
  hub.publish("k", 1);
  hub.publish("other", 9);
  hub.publish("k", 2);
  subscription.reset();
  hub.publish("k", 3);
  CHECK(heard == std::vector<double>{1, 2});
}

TEST_CASE("a subscription handle ends its listener when destroyed", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  int calls = 0;
  {
    auto subscription = hub.subscribe("k", [&calls](const Sample&) { ++calls; });
    hub.publish("k", 1);
  }
  hub.publish("k", 2);
  CHECK(calls == 1);
}

TEST_CASE("a key is wanted while streamed or recently read", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.publish("k", 1);
  CHECK_FALSE(hub.wanted("absent", 60s));
  (void)hub.read("k", 30s);
  clock.advance(59s);
  CHECK(hub.wanted("k", 60s));
  clock.advance(2s);
  CHECK_FALSE(hub.wanted("k", 60s));
  auto subscription = hub.subscribe("k", [](const Sample&) {});
  CHECK(hub.wanted("k", 60s));
  subscription.reset();
  CHECK_FALSE(hub.wanted("k", 60s));
}

TEST_CASE("a publish may carry a separate activation value", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.publish("k", 0, 12);
  auto read = hub.read("k", 1s);
  REQUIRE(read.ok());
  CHECK(read->value == 0);
  CHECK(read->activation_value == 12);
}

TEST_CASE("a key awaits activation while one of its subscribers says so", "[hub]") {
  testing::FakeClock clock;
  MetricHub hub(clock);
  hub.track("k");
  CHECK_FALSE(hub.awaiting_activation("k"));
  CHECK_FALSE(hub.awaiting_activation("unknown"));
  auto first = hub.subscribe("k", [](const Sample&) {});
  auto second = hub.subscribe("k", [](const Sample&) {});
  CHECK_FALSE(hub.awaiting_activation("k"));
  first.set_awaiting_activation(true);
  CHECK(hub.awaiting_activation("k"));
  second.set_awaiting_activation(false);
  CHECK(hub.awaiting_activation("k"));
  first.set_awaiting_activation(false);
  CHECK_FALSE(hub.awaiting_activation("k"));
  second.set_awaiting_activation(true);
  second.reset();  // a closed stream waits for nothing
  CHECK_FALSE(hub.awaiting_activation("k"));
}

TEST_CASE("a reader waiting for a key's first poll hears its first value or error once", "[hub]") {
  testing::FakeClock clock;
  for (const bool fails : {false, true}) {
    MetricHub hub(clock);
    int calls = 0;
    CHECK_FALSE(hub.first_poll_pending("k"));
    CHECK_FALSE(hub.when_first_polled("k", [&calls] { ++calls; }));  // untracked: nothing to wait for
    hub.track("k");
    CHECK(hub.first_poll_pending("k"));
    REQUIRE(hub.when_first_polled("k", [&calls] { ++calls; }));
    REQUIRE(hub.when_first_polled("k", [&calls] { ++calls; }));
    if (fails) {
      hub.publish_error("k", "broker down");
    } else {
      hub.publish("k", 3);
    }
    CHECK(calls == 2);
    CHECK_FALSE(hub.first_poll_pending("k"));
    CHECK_FALSE(hub.when_first_polled("k", [&calls] { ++calls; }));  // polled: read it now
    hub.publish("k", 4);
    CHECK(calls == 2);
  }
}
