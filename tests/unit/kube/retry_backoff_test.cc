#include "kube/retry_backoff.h"

#include <catch2/catch.hpp>

#include <vector>

#include "fakes/fake_clock.h"

using namespace std::chrono_literals;
using ballast::kube::RetryBackoff;
using ballast::testing::FakeClock;

TEST_CASE("each failure in a row doubles the wait from the base up to the cap", "[retry_backoff]") {
  struct Row {
    int failures;
    std::chrono::milliseconds wait;
  };
  const std::vector<Row> rows = {{1, 1s},  {2, 2s},   {3, 4s},   {4, 8s},   {5, 16s},  {6, 32s},
                                 {7, 64s}, {8, 128s}, {9, 256s}, {10, 300s}, {11, 300s}, {60, 300s}};
  FakeClock clock;
  RetryBackoff backoff;  // 1 s → 5 min, client-go's item limiter with our defaults
  int made = 0;
  for (const auto& row : rows) {
    INFO("failure " << row.failures);
    RetryBackoff::time_point due{};
    while (made < row.failures) {
      due = backoff.failure("pdb|shop/web", clock.now());
      ++made;
    }
    CHECK(due - clock.now() == row.wait);
    CHECK(backoff.failures("pdb|shop/web") == row.failures);
  }
}

TEST_CASE("a key is not due until its wait is over, and a success forgets it", "[retry_backoff]") {
  FakeClock clock;
  RetryBackoff backoff({100ms, 1s});
  CHECK(backoff.due("status|general", clock.now()));  // never failed
  backoff.failure("status|general", clock.now());
  CHECK_FALSE(backoff.due("status|general", clock.now()));
  clock.advance(99ms);
  CHECK_FALSE(backoff.due("status|general", clock.now()));
  clock.advance(1ms);
  CHECK(backoff.due("status|general", clock.now()));
  CHECK(backoff.failure("status|general", clock.now()) - clock.now() == 200ms);  // still counting
  backoff.success("status|general");
  CHECK(backoff.due("status|general", clock.now()));
  CHECK(backoff.failures("status|general") == 0);
  CHECK(backoff.failure("status|general", clock.now()) - clock.now() == 100ms);  // from the base again
}

TEST_CASE("keys back off apart, and the next due time is the earliest still ahead", "[retry_backoff]") {
  FakeClock clock;
  RetryBackoff backoff({1s, 1min});
  CHECK_FALSE(backoff.next_due(clock.now()));
  backoff.failure("a", clock.now());
  backoff.failure("a", clock.now());  // a: 2 s
  backoff.failure("b", clock.now());  // b: 1 s
  CHECK(backoff.failures("a") == 2);
  CHECK(backoff.failures("b") == 1);
  CHECK(*backoff.next_due(clock.now()) - clock.now() == 1s);
  clock.advance(1s);  // b is due now; only a waits
  CHECK(backoff.due("b", clock.now()));
  CHECK_FALSE(backoff.due("a", clock.now()));
  CHECK(*backoff.next_due(clock.now()) - clock.now() == 1s);
  clock.advance(1s);
  CHECK_FALSE(backoff.next_due(clock.now()));
}

TEST_CASE("a key left alone for longer than the cap past its due time is forgotten on the next failure",
          "[retry_backoff]") {
  FakeClock clock;
  RetryBackoff backoff({1s, 10s});
  backoff.failure("gone", clock.now());
  backoff.failure("busy", clock.now());
  clock.advance(11s);  // "gone" was due 10 s ago: not past the cap yet
  backoff.failure("busy", clock.now());
  CHECK(backoff.size() == 2);
  clock.advance(1s);
  backoff.failure("busy", clock.now());
  CHECK(backoff.size() == 1);
  CHECK(backoff.failures("gone") == 0);
  CHECK(backoff.failures("busy") == 3);
}
