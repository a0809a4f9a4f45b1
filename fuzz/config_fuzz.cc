// `--config` YAML, as a ConfigMap a careless or hostile editor wrote. The parser reads a
// file, so the input is an in-memory one.
#include <cstddef>
#include <cstdint>

#include "core/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  fuzz::MemoryFile file(fuzz::as_text(data, size));
  auto config = load_config_file(file.path(), default_config());
  if (config) (void)render_config(*config);
  return 0;
}
