// A Kubernetes watch stream (newline-separated events) from the apiserver, fed in pieces as
// the network delivers it, and each event handled as the informer handles it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "kube/model/object_meta.h"
#include "kube/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast::kube;
  static const Resource resource = pods();
  WatchLineReader reader("watch pods", [](WatchEvent event) {
    (void)resource_version(event.object);
    event.object["kind"] = resource.kind;
    event.object["apiVersion"] = resource.api_version();
    (void)(namespace_of(event.object) + "/" + name(event.object));
  });
  const std::string_view text = ballast::fuzz::as_text(data, size);
  // Piece boundaries vary with the input's size, so lines are split at every offset.
  const size_t piece = 1 + size % 61;
  for (size_t offset = 0; offset < text.size(); offset += piece) {
    if (!reader.consume(text.substr(offset, piece))) break;
  }
  return 0;
}
