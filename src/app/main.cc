#include <malloc.h>

#include "app/cli.h"

int main(int argc, char** argv) {
  // Large blocks (HTTP bodies near their limit, big list responses) get pages of their own
  // that go back to the kernel when freed. glibc's sliding threshold would otherwise serve
  // them from an arena once one was freed, and an oversized response refused at its cap
  // would keep its memory resident for good (tests/faults: a 100 MiB Prometheus body).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // Two malloc arenas, not glibc's 8 per core: each arena keeps the holes its thread's
  // passes leave, and with 30 threads a cache's long-lived objects end up scattered over
  // many arenas' pages. With 30,000 real pods cached: 219 → 172 MiB after the first sync,
  // the soak's steady state 197 → 166 MiB (bench/RESULTS.md), CPU unchanged.
  mallopt(M_ARENA_MAX, 2);
  return ballast::app::run_cli(argc, argv);
}
