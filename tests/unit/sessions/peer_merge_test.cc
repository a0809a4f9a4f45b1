// The merge of local and remote shares in SessionRegistry: what every replica counts.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "sources/sessions/session_registry.h"

namespace ballast::sessions {
namespace {

using namespace std::chrono_literals;

scaler::TriggerSpec spec_for(const std::string& counter) {
  scaler::TriggerSpec spec;
  spec.source = scaler::SourceKind::kSessions;
  spec.source_key = "k";
  spec.detail = scaler::SessionsTrigger{counter, {}};
  return spec;
}

// One step of a scenario. Local steps name the connection by a test label; remote steps
// carry the peer replica's id and the connection id it has there.
struct Step {
  enum Op { kOpen, kSet, kClose, kRemote, kRemoveRemote, kSweep, kDrop, kWallAt } op;
  std::string name;       // local label, or the origin replica
  std::string publisher;  // kOpen, kRemote
  double value = 0;       // kSet, kRemote
  uint64_t connection = 0;  // kRemote, kRemoveRemote
  int64_t stamp = 0;        // kRemote; kWallAt: the wall clock from now on
  uint64_t generation = 1;  // kRemote, kSweep
  double expect = -1;       // the total after the step; -1 = not checked
};

Step open(std::string name, std::string publisher = {}, double expect = -1) {
  return {Step::kOpen, std::move(name), std::move(publisher), 0, 0, 0, 1, expect};
}
Step set(std::string name, double value, double expect) { return {Step::kSet, std::move(name), {}, value, 0, 0, 1, expect}; }
Step close(std::string name, double expect) { return {Step::kClose, std::move(name), {}, 0, 0, 0, 1, expect}; }
Step remote(std::string origin, uint64_t connection, std::string publisher, int64_t stamp, double value, double expect,
            uint64_t generation = 1) {
  return {Step::kRemote, std::move(origin), std::move(publisher), value, connection, stamp, generation, expect};
}
Step remove_remote(std::string origin, uint64_t connection, double expect) {
  return {Step::kRemoveRemote, std::move(origin), {}, 0, connection, 0, 1, expect};
}
Step sweep(std::string origin, uint64_t generation, double expect) {
  return {Step::kSweep, std::move(origin), {}, 0, 0, 0, generation, expect};
}
Step drop(std::string origin, double expect) { return {Step::kDrop, std::move(origin), {}, 0, 0, 0, 1, expect}; }
Step wall_at(int64_t micros) { return {Step::kWallAt, {}, {}, 0, 0, micros, 1, -1}; }

struct Scenario {
  const char* name;
  std::vector<Step> steps;
};

SeriesMap one_series(double value) { return {{SeriesKey{"active", {}}, value}}; }

void run(const Scenario& scenario) {
  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  int64_t wall = 1'000'000;
  SessionRegistry registry{hub, metrics, RegistryOptions{"replica-b", [&wall] { return wall; }}};
  registry.watch(spec_for("active"));
  std::map<std::string, uint64_t> local;
  size_t index = 0;
  for (const Step& step : scenario.steps) {
    INFO(scenario.name << ", step " << index++);
    switch (step.op) {
      case Step::kOpen:
        local[step.name] = registry.open_connection(step.publisher);
        break;
      case Step::kSet:
        REQUIRE(registry.apply(local.at(step.name), Frame{"active", {}, Frame::Kind::kValue, step.value}).ok());
        break;
      case Step::kClose:
        registry.close_connection(local.at(step.name));
        break;
      case Step::kRemote:
        registry.apply_remote(step.name, step.generation,
                              ConnectionShare{step.connection, step.publisher, step.stamp, one_series(step.value)});
        break;
      case Step::kRemoveRemote:
        registry.remove_remote(step.name, step.connection);
        break;
      case Step::kSweep:
        registry.sweep_remote(step.name, step.generation);
        break;
      case Step::kDrop:
        registry.drop_origin(step.name);
        break;
      case Step::kWallAt:
        wall = step.stamp;
        break;
    }
    if (step.expect >= 0) {
      const auto sample = hub.read("k", 1h);
      REQUIRE(sample.ok());
      CHECK(sample->value == step.expect);
    }
  }
}

}  // namespace

TEST_CASE("every replica's shares add up, and a share leaves with its replica", "[sessions][peers]") {
  const Scenario scenarios[] = {
      {"local and two remote replicas sum",
       {open("a"), set("a", 5, 5), remote("replica-a", 1, "", 10, 7, 12), remote("replica-c", 1, "", 10, 3, 15)}},
      {"a remote update replaces, never adds",
       {remote("replica-a", 1, "", 10, 7, 7), remote("replica-a", 1, "", 10, 2, 2), remote("replica-a", 2, "", 11, 4, 6)}},
      {"a connection closed on a peer leaves the sum",
       {remote("replica-a", 1, "", 10, 7, 7), remote("replica-a", 2, "", 11, 4, 11), remove_remote("replica-a", 1, 4)}},
      {"an expired peer takes all its connections and nothing else",
       {open("a"), set("a", 1, 1), remote("replica-a", 1, "", 10, 7, 8), remote("replica-a", 2, "", 11, 4, 12),
        remote("replica-c", 1, "", 10, 3, 15), drop("replica-a", 4)}},
      {"a peer that rejoins counts once, its snapshot replacing what was held",
       {remote("replica-a", 1, "", 10, 7, 7), remote("replica-a", 2, "", 11, 4, 11),
        // the link drops and comes back: a new generation re-sends only what is still open
        remote("replica-a", 2, "", 11, 5, 12, 2), sweep("replica-a", 2, 5)}},
      {"a peer dropped past the bound comes back with its snapshot",
       {remote("replica-a", 1, "", 10, 7, 7), drop("replica-a", 0), remote("replica-a", 1, "", 10, 7, 7, 2),
        sweep("replica-a", 2, 7)}},
  };
  for (const auto& scenario : scenarios) run(scenario);
}

TEST_CASE("the newest connection of a publisher id counts, on whichever replica it is", "[sessions][peers]") {
  const Scenario scenarios[] = {
      {"a reconnect on this replica replaces the earlier connection",
       {open("old", "signaling-0"), set("old", 40, 40), open("new", "signaling-0", 0), set("new", 41, 41),
        close("old", 41)}},
      {"a reconnect to a peer replaces the local connection",
       {open("old", "signaling-0"), set("old", 40, 40), remote("replica-a", 9, "signaling-0", 2'000'000, 41, 41)}},
      {"a late share of an older remote connection does not count",
       {wall_at(5'000'000), open("new", "signaling-0"), set("new", 41, 41),
        remote("replica-a", 9, "signaling-0", 2'000'000, 40, 41)}},
      {"a local connection opened after a remote one outranks it even with a lagging wall clock",
       {wall_at(1'000), remote("replica-a", 9, "signaling-0", 9'000'000, 40, 40), open("new", "signaling-0", 0),
        set("new", 41, 41)}},
      {"when the newest ends the next newest counts again",
       {open("old", "signaling-0"), set("old", 40, 40), remote("replica-a", 9, "signaling-0", 2'000'000, 41, 41),
        remove_remote("replica-a", 9, 40)}},
      {"the same id on two peers at once: the newest stamp wins everywhere",
       {remote("replica-a", 1, "p", 100, 5, 5), remote("replica-c", 1, "p", 200, 6, 6), remote("replica-a", 1, "p", 100, 9, 6),
        drop("replica-c", 9)}},
      {"equal stamps break ties by replica id, the same way on every replica",
       {remote("replica-c", 1, "p", 100, 6, 6), remote("replica-a", 1, "p", 100, 5, 6)}},
      {"publishers with different ids all count",
       {open("x", "p1"), set("x", 1, 1), open("y", "p2"), set("y", 2, 3), remote("replica-a", 1, "p3", 5, 4, 7)}},
  };
  for (const auto& scenario : scenarios) run(scenario);
}

TEST_CASE("local shares are reported to the listener and exported with their stamp", "[sessions][peers]") {
  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  SessionRegistry registry{hub, metrics, RegistryOptions{"replica-b", [] { return int64_t{42}; }}};
  std::vector<uint64_t> changed;
  registry.set_local_listener([&changed](uint64_t id) { changed.push_back(id); });
  const auto first = registry.open_connection("p");
  const auto second = registry.open_connection();
  REQUIRE(registry.apply(first, Frame{"active", {}, Frame::Kind::kValue, 3}).ok());
  registry.apply_remote("replica-a", 1, ConnectionShare{1, "", 7, one_series(1)});
  registry.close_connection(second);
  CHECK(changed == std::vector<uint64_t>{first, second, first, second});

  const auto shares = registry.local_shares({first, second});
  REQUIRE(shares.size() == 2);
  REQUIRE(shares[0].second.has_value());
  CHECK(shares[0].second->publisher == "p");
  CHECK(shares[0].second->stamp == 42);
  CHECK(shares[0].second->series == one_series(3));
  CHECK_FALSE(shares[1].second.has_value());
  CHECK(registry.all_local_shares().size() == 1);
  CHECK(registry.remote_connections() == std::map<std::string, size_t>{{"replica-a", 1}});
}

}  // namespace ballast::sessions
