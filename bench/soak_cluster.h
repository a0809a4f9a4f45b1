#pragma once
// The soak's cluster and its churn, the same on the fake apiserver (soak_apiserver) and the
// real one (soak_churn): which namespace, node and labels pod `index` has, its name in each
// generation (a replacement is the next generation of the same index), and which changes
// each tenth of a second brings.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_apiserver.h"

namespace ballast::bench {

inline const char* const kSoakNamespaces[] = {"shop", "ai-services", "databases", "monitoring", "jobs"};

inline std::string soak_node_name(int index) { return "node-" + std::to_string(index); }

inline nlohmann::json soak_node(int index) {
  return ballast::testing::make_node(soak_node_name(index), {{"pool", "general"}}, "8", "32Gi");
}

inline nlohmann::json soak_pod(int generation, int index, int nodes, bool ready) {
  return ballast::testing::make_pod(kSoakNamespaces[index % 5],
                                    "pod-" + std::to_string(index) + "-" + std::to_string(generation),
                                    {{"app", "app-" + std::to_string(index % 300)}}, soak_node_name(index % nodes),
                                    ready);
}

struct SoakChange {
  enum class Kind { kReplace, kFlip, kHeartbeat };
  Kind kind;
  int index;       // pod index, or node index for a heartbeat
  int generation;  // the pod's generation after the change (a replacement removes generation - 1)
  bool ready;      // the pod's readiness after the change
};

// Every second `churn` pods are replaced (walking the pods in order), as many flip readiness
// (the pod half the cluster ahead of each replacement, so the two never meet) and a tenth as
// many nodes (at least ten) send a heartbeat; tick() hands out a tenth of that.
class SoakSchedule {
 public:
  SoakSchedule(int nodes, int pods, int churn)
      : nodes_(nodes), pods_(pods), churn_(churn), generation_(static_cast<size_t>(pods), 0),
        ready_(static_cast<size_t>(pods), true) {}

  std::vector<SoakChange> tick() {
    std::vector<SoakChange> changes;
    for (int k = 0; k < churn_ / 10; ++k) {
      const int victim = next_pod_;
      next_pod_ = (next_pod_ + 1) % pods_;
      const auto v = static_cast<size_t>(victim);
      changes.push_back({SoakChange::Kind::kReplace, victim, ++generation_[v], ready_[v]});
      const int flip = (victim + pods_ / 2) % pods_;
      const auto f = static_cast<size_t>(flip);
      ready_[f] = !ready_[f];
      changes.push_back({SoakChange::Kind::kFlip, flip, generation_[f], ready_[f]});
    }
    for (int k = 0; k < std::max(1, churn_ / 100); ++k) {
      changes.push_back({SoakChange::Kind::kHeartbeat, next_node_, 0, true});
      next_node_ = (next_node_ + 1) % nodes_;
    }
    return changes;
  }

 private:
  const int nodes_, pods_, churn_;
  std::vector<int> generation_;
  std::vector<bool> ready_;
  int next_pod_ = 0, next_node_ = 0;
};

// Options "--key value" into `set(key, value)`; false (after a message) on a key it refused.
template <typename Set>
bool parse_soak_options(int argc, char** argv, Set set) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!set(std::string(argv[i]), std::string(argv[i + 1]))) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return false;
    }
  }
  return true;
}

}  // namespace ballast::bench
