#include "core/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include <catch2/catch.hpp>

TEST_CASE("fit_thread_name keeps what the kernel keeps and cuts only the tail", "[thread_name]") {
  struct Case {
    std::string name;
    std::string fitted;
  };
  const Case cases[] = {
      {"", ""},
      {"io-0", "io-0"},
      {"rec-nodepool", "rec-nodepool"},
      {"inf-horizontalp", "inf-horizontalp"},               // exactly 15 bytes
      {"inf-horizontalpodautoscalers", "inf-horizontalp"},  // the detail is cut, the prefix stays
      {"inf-poddisruptionbudgets", "inf-poddisrupti"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(ballast::fit_thread_name(c.name) == c.fitted);
  }
}

TEST_CASE("name_this_thread names the calling thread, even with a name too long for the kernel", "[thread_name]") {
  // Catch2's assertions are not thread-safe: the thread only reports what it saw.
  int read = -1;
  std::string seen;
  std::thread([&] {
    ballast::name_this_thread("inf-persistentvolumeclaims");
    char name[16] = {};
    read = pthread_getname_np(pthread_self(), name, sizeof name);
    seen = name;
  }).join();
  REQUIRE(read == 0);
  CHECK(seen == "inf-persistentv");
}
