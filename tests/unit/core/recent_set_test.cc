#include "core/recent_set.h"

#include <catch2/catch.hpp>

using ballast::RecentSet;

TEST_CASE("a recent set reports a key as new only the first time", "[recent-set]") {
  RecentSet seen(8);
  CHECK(seen.insert("a"));
  CHECK_FALSE(seen.insert("a"));
  CHECK(seen.insert("b"));
  CHECK(seen.contains("a"));
  CHECK_FALSE(seen.contains("c"));
  CHECK(seen.size() == 2);
}

TEST_CASE("a recent set never holds more than its capacity", "[recent-set]") {
  RecentSet seen(100);
  for (int i = 0; i < 10'000; ++i) seen.insert("key-" + std::to_string(i));
  CHECK(seen.size() == 100);
  CHECK(seen.contains("key-9999"));
  CHECK(seen.contains("key-9900"));
  CHECK_FALSE(seen.contains("key-9899"));
}

TEST_CASE("a recent set forgets the least recently seen key first", "[recent-set]") {
  RecentSet seen(3);
  seen.insert("a");
  seen.insert("b");
  seen.insert("c");
  CHECK_FALSE(seen.insert("a"));  // a is now the most recent: b is the oldest
  CHECK(seen.insert("d"));
  CHECK_FALSE(seen.contains("b"));
  CHECK(seen.contains("a"));
  CHECK(seen.contains("c"));
  CHECK(seen.insert("b"));  // forgotten, so new again
  CHECK(seen.size() == 3);
}

TEST_CASE("a recent set of capacity zero still remembers the last key", "[recent-set]") {
  RecentSet seen(0);
  CHECK(seen.capacity() == 1);
  CHECK(seen.insert("a"));
  CHECK_FALSE(seen.insert("a"));
  CHECK(seen.insert("b"));
  CHECK_FALSE(seen.contains("a"));
}

TEST_CASE("a key erased from a recent set is new again and frees its place", "[recent-set]") {
  RecentSet seen(2);
  seen.insert("a");
  seen.insert("b");
  CHECK(seen.erase("a"));
  CHECK_FALSE(seen.erase("a"));
  CHECK_FALSE(seen.contains("a"));
  CHECK(seen.size() == 1);
  CHECK(seen.insert("c"));
  CHECK(seen.contains("b"));  // the erased key's place was free: nothing else was forgotten
  CHECK(seen.insert("a"));
}
