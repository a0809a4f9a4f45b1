// A cluster snapshot (`ballast plan`, and the objects a watch delivers): Nodes, Pods,
// PDBs, NodeGroups... in a `kind: List`.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "nodepool/cluster_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ballast::nodepool::parse_snapshot_text(ballast::fuzz::as_text(data, size));
  return 0;
}
