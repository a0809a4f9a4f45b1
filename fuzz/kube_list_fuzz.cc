// One page of a Kubernetes list answer (GET /api/v1/pods?limit=500…) from the apiserver:
// the decode KubeClient::list runs before the informer caches the items.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "kube/model/object_meta.h"
#include "kube/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast::kube;
  static const Resource resource = pods();
  auto page = decode_list_page(ballast::fuzz::as_text(data, size), resource, "list pods");
  if (!page) return 0;
  // What the informer reads of every item: its cache key.
  for (const auto& item : page->items) (void)(namespace_of(item) + "/" + name(item));
  return 0;
}
