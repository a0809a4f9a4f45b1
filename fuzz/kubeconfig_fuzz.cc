// A kubeconfig (`--kubeconfig`). Inline certificate data is written under a private
// directory of this process, as ballast does.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "kube/kube_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string inline_dir = "/tmp/ballast-fuzz-kubeconfig-" + std::to_string(::getpid());
  (void)ballast::kube::parse_kubeconfig(ballast::fuzz::as_text(data, size), "/fuzz/kubeconfig", inline_dir);
  return 0;
}
