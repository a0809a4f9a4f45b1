#include "kube/reconcile_loop.h"

#include <catch2/catch.hpp>

#include <atomic>

#include "fakes/fake_clock.h"

using namespace std::chrono_literals;
using ballast::kube::ReconcileLoop;
using ballast::testing::FakeClock;

namespace {

// Waits for the loop to park on the clock `wait` from now (so it is idle), then moves
// the clock past that wait.
void elapse_parked_wait(FakeClock& clock, std::chrono::milliseconds wait) {
  REQUIRE(clock.await_waiter(clock.now() + wait));
  clock.advance(wait);
}

}  // namespace

TEST_CASE("the loop passes once at start, then once per burst of pokes", "[reconcile_loop]") {
  FakeClock clock;
  std::atomic<int> calls{0};
  ReconcileLoop loop(clock, 10s, 200ms, [&] {
    ++calls;
    return true;
  });
  loop.start();
  elapse_parked_wait(clock, 200ms);
  REQUIRE(clock.await_waiter(clock.now() + 10s));  // passed, now idle until the interval
  CHECK(loop.passes() == 1);

  for (int i = 0; i < 5; ++i) loop.poke();
  elapse_parked_wait(clock, 200ms);  // one debounce for the whole burst
  REQUIRE(clock.await_waiter(clock.now() + 10s));
  CHECK(loop.passes() == 2);
  CHECK(calls == 2);
  loop.stop();
}

TEST_CASE("without pokes the loop still passes every interval", "[reconcile_loop]") {
  FakeClock clock;
  ReconcileLoop loop(clock, 50ms, 1ms, [] { return true; });
  loop.start();
  elapse_parked_wait(clock, 1ms);
  for (int interval = 0; interval < 3; ++interval) elapse_parked_wait(clock, 50ms);  // no debounce: nothing changed
  REQUIRE(clock.await_waiter(clock.now() + 50ms));
  CHECK(loop.passes() == 4);
  loop.stop();
  clock.advance(1h);
  CHECK(loop.passes() == 4);
}

TEST_CASE("passes that could not complete are not counted", "[reconcile_loop]") {
  FakeClock clock;
  std::atomic<bool> synced{false};
  std::atomic<int> calls{0};
  ReconcileLoop loop(clock, 10s, 1ms, [&] {
    ++calls;
    return synced.load();
  });
  loop.start();
  elapse_parked_wait(clock, 1ms);
  REQUIRE(clock.await_waiter(clock.now() + 10s));
  CHECK(calls == 1);
  CHECK(loop.passes() == 0);

  synced = true;
  loop.poke();
  elapse_parked_wait(clock, 1ms);
  REQUIRE(clock.await_waiter(clock.now() + 10s));
  CHECK(calls == 2);
  CHECK(loop.passes() == 1);
}

TEST_CASE("stop ends a wait without the clock moving, is idempotent, and is safe before start", "[reconcile_loop]") {
  FakeClock clock;
  ReconcileLoop never_started(clock, 10s, 1ms, [] { return true; });
  never_started.stop();

  ReconcileLoop loop(clock, 1h, 1h, [] { return true; });
  loop.start();
  REQUIRE(clock.await_waiter(clock.now() + 1h));
  loop.stop();  // returns although the clock never reaches the debounce's end
  loop.stop();
  CHECK(loop.passes() == 0);
}

TEST_CASE("a pass that asks to run again at a time runs then, not an interval later", "[reconcile_loop]") {
  FakeClock clock;
  std::atomic<int> calls{0};
  ReconcileLoop* self = nullptr;
  ReconcileLoop loop(clock, 10s, 1ms, [&] {
    // The first pass has a deadline 3 s ahead (a backoff ending, a provision timeout).
    if (++calls == 1) self->requeue_at(clock.now() + 3s);
    return true;
  });
  self = &loop;
  loop.start();
  elapse_parked_wait(clock, 1ms);
  elapse_parked_wait(clock, 3s);  // parked until the deadline, not the interval
  REQUIRE(clock.await_waiter(clock.now() + 10s));  // the second pass asked nothing: idle again
  CHECK(loop.passes() == 2);
  loop.stop();
}

TEST_CASE("the earliest requeue wins, also when it comes from another thread during the wait", "[reconcile_loop]") {
  FakeClock clock;
  ReconcileLoop loop(clock, 1h, 1ms, [] { return true; });
  loop.start();
  elapse_parked_wait(clock, 1ms);
  REQUIRE(clock.await_waiter(clock.now() + 1h));
  loop.requeue_at(clock.now() + 5s);
  loop.requeue_at(clock.now() + 9s);  // later: ignored
  loop.requeue_at(clock.now() + 2s);
  elapse_parked_wait(clock, 2s);
  REQUIRE(clock.await_waiter(clock.now() + 1h));  // the pass cleared the others
  CHECK(loop.passes() == 2);
  loop.stop();
}

TEST_CASE("a poke before the requeue time runs the pass after the debounce and clears the requeue", "[reconcile_loop]") {
  FakeClock clock;
  ReconcileLoop loop(clock, 1h, 10ms, [] { return true; });
  loop.start();
  elapse_parked_wait(clock, 10ms);
  REQUIRE(clock.await_waiter(clock.now() + 1h));
  loop.requeue_at(clock.now() + 30s);
  REQUIRE(clock.await_waiter(clock.now() + 30s));
  loop.poke();
  elapse_parked_wait(clock, 10ms);
  REQUIRE(clock.await_waiter(clock.now() + 1h));
  CHECK(loop.passes() == 2);
  loop.stop();
}
