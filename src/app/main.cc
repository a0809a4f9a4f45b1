#include <malloc.h>

#include "app/cli.h"

int main(int argc, char** argv) {
  // Large blocks (HTTP bodies near their limit, big list responses) get pages of their own
  // that go back to the kernel when freed. glibc's sliding threshold would otherwise serve
  // them from an arena once one was freed, and an oversized response refused at its cap
  // would keep its memory resident for good (tests/faults: a 100 MiB Prometheus body).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  return ballast::app::run_cli(argc, argv);
}
