#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "kube/model/shared_objects.h"
#include "nodepool/cluster_model.h"

namespace ballast::nodepool {

// The node pool's pods, parsed once per change rather than once per pass: an informer
// replaces the pointer of an object that changed, so a pass re-parses only the pods whose
// pointer it has not seen (under churn a few hundred of 30,000, where parsing them all was
// most of a pass). Used by one reconcile thread.
class ParsedPods {
 public:
  // The pods of `objects` (a snapshot of the pods informer, or plain pod objects), in its
  // order. A pod that does not parse fails the call, as parse_objects() fails, and the
  // pods parsed so far are kept for the next call.
  Result<std::vector<Pod>> update(const kube::SharedObjects& objects);
  // How many pods the last update() parsed (the rest were reused).
  size_t parsed_last() const { return parsed_last_; }

 private:
  struct Parsed {
    kube::ObjectRef object;  // held so its address is not reused while it keys the map
    Pod pod;
  };
  std::unordered_map<const nlohmann::json*, Parsed> by_object_;
  size_t parsed_last_ = 0;
};

}  // namespace ballast::nodepool
