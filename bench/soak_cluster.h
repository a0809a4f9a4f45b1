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

// The command line both drivers share: "--key value" pairs.
struct SoakOptions {
  std::string kubeconfig;  // written by the fake, read by soak_churn
  int nodes = 1000, pods = 30000, churn = 100, seconds = 600;
  int clients = 4;  // soak_churn's KubeClients
};

// False, after a message naming the option, on an unknown or malformed one; `--clients` only
// where `with_clients`.
inline bool parse_soak_options(int argc, char** argv, bool with_clients, SoakOptions& options) {
  for (int i = 1; i < argc; i += 2) {
    const std::string key = argv[i];
    if (i + 1 == argc) {
      std::fprintf(stderr, "%s needs a value\n", key.c_str());
      return false;
    }
    const std::string value = argv[i + 1];
    int* number = key == "--nodes"     ? &options.nodes
                  : key == "--pods"    ? &options.pods
                  : key == "--churn"   ? &options.churn
                  : key == "--seconds" ? &options.seconds
                  : key == "--clients" && with_clients ? &options.clients
                                                      : nullptr;
    if (key == "--kubeconfig") {
      options.kubeconfig = value;
    } else if (number == nullptr) {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return false;
    } else if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 9) {
      std::fprintf(stderr, "%s wants a number, not '%s'\n", key.c_str(), value.c_str());
      return false;
    } else {
      *number = std::stoi(value);
    }
  }
  return !options.kubeconfig.empty() && options.nodes > 0 && options.pods > 0 && options.clients > 0;
}

}  // namespace ballast::bench
