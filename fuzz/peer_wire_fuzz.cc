// One frame on a peer link (`/v1/peers`): decoded, and re-encoded when valid.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "peers/peer_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto update = ballast::peers::decode_update(ballast::fuzz::as_text(data, size));
  if (update) (void)ballast::peers::encode_update(*update);
  return 0;
}
