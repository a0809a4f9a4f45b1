#include "nodepool/parsed_pods.h"

namespace ballast::nodepool {

Result<std::vector<Pod>> ParsedPods::update(const kube::SharedObjects& objects) {
  std::unordered_map<const nlohmann::json*, Parsed> seen;
  seen.reserve(objects.size());
  std::vector<Pod> pods;
  pods.reserve(objects.size());
  size_t parsed = 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    const kube::ObjectRef& object = objects.ref(i);
    auto known = by_object_.find(object.get());
    if (known == by_object_.end()) {
      auto pod = parse_pod(kube::expanded(*object));
      if (!pod) {
        by_object_.merge(seen);
        return pod.error();
      }
      ++parsed;
      known = by_object_.emplace(object.get(), Parsed{object, std::move(*pod)}).first;
    }
    pods.push_back(known->second.pod);
    seen.insert(by_object_.extract(known));
  }
  by_object_ = std::move(seen);  // pods gone or changed since the last call are dropped
  parsed_last_ = parsed;
  return pods;
}

}  // namespace ballast::nodepool
