// The small grammars untrusted text reaches: durations (trigger metadata, config),
// Kubernetes quantities (objects, policy), RFC 3339 times (objects), host:port and URLs
// (config, trigger metadata). The first byte picks the grammar.
#include <cstddef>
#include <cstdint>

#include "core/duration.h"
#include "core/net_address.h"
#include "core/timestamp.h"
#include "fuzz_input.h"
#include "kube/model/quantity.h"
#include "net/http_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  if (size == 0) return 0;
  const auto text = fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0: (void)parse_duration(text); break;
    case 1: (void)kube::parse_milli(text); break;
    case 2: (void)kube::parse_units(text); break;
    case 3: {
      auto time = parse_time(text);
      if (time) (void)format_time(*time);
      break;
    }
    case 4: (void)parse_host_port(text); break;
    default: (void)net::parse_url(text); break;
  }
  return 0;
}
