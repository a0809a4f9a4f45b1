#include "kube/reconcile_loop.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using ballast::kube::ReconcileLoop;

namespace {

// Polls `done` for up to `limit`; the loop's thread runs on its own schedule.
template <typename Done>
bool eventually(Done done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST_CASE("the loop passes once at start, then once per burst of pokes", "[reconcile_loop]") {
  std::atomic<int> calls{0};
  ReconcileLoop loop(10s, 200ms, [&] {
    ++calls;
    return true;
  });
  loop.start();
  REQUIRE(eventually([&] { return loop.passes() == 1; }));

  for (int i = 0; i < 5; ++i) loop.poke();
  REQUIRE(eventually([&] { return loop.passes() == 2; }));
  std::this_thread::sleep_for(300ms);
  CHECK(loop.passes() == 2);
  CHECK(calls == 2);
  loop.stop();
}

TEST_CASE("without pokes the loop still passes every interval", "[reconcile_loop]") {
  ReconcileLoop loop(50ms, 1ms, [] { return true; });
  loop.start();
  CHECK(eventually([&] { return loop.passes() >= 3; }));
  loop.stop();
  const auto stopped_at = loop.passes();
  std::this_thread::sleep_for(200ms);
  CHECK(loop.passes() == stopped_at);
}

TEST_CASE("passes that could not complete are not counted", "[reconcile_loop]") {
  std::atomic<bool> synced{false};
  std::atomic<int> calls{0};
  ReconcileLoop loop(10s, 1ms, [&] {
    ++calls;
    return synced.load();
  });
  loop.start();
  REQUIRE(eventually([&] { return calls >= 1; }));
  CHECK(loop.passes() == 0);
  synced = true;
  loop.poke();
  CHECK(eventually([&] { return loop.passes() == 1; }));
}

TEST_CASE("stop is prompt while waiting, idempotent, and safe before start", "[reconcile_loop]") {
  ReconcileLoop never_started(10s, 1ms, [] { return true; });
  never_started.stop();

  ReconcileLoop loop(1h, 1h, [] { return true; });
  loop.start();
  const auto begin = std::chrono::steady_clock::now();
  loop.stop();
  loop.stop();
  CHECK(std::chrono::steady_clock::now() - begin < 2s);
}
