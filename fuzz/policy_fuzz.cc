// The tier policy YAML (`--policy`, a ConfigMap).
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "policy/tier_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ballast::policy::parse_policy(ballast::fuzz::as_text(data, size));
  return 0;
}
