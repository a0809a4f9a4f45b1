// A PromQL instant-query response body, from a Prometheus-compatible server ballast does
// not control.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "sources/prom/prom_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto value = ballast::prom::parse_query_response(ballast::fuzz::as_text(data, size));
  if (value) (void)ballast::prom::resolve_null(*value, false);
  return 0;
}
