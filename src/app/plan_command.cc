#include "app/plan_command.h"

#include <chrono>
#include <iostream>
#include <iterator>

#include "core/file.h"
#include "nodepool/cluster_model.h"
#include "nodepool/plan_report.h"
#include "policy/tier_policy.h"

namespace ballast::app {
namespace {

constexpr int kBadInput = 2;

int bad_input(const std::string& message) {
  std::cerr << "ballast plan: " << message << "\n";
  return kBadInput;
}

struct PlanFlags {
  std::string snapshot;
  std::string policy;
  std::string now;
  std::string output = "table";
};

Result<PlanFlags> parse_plan_flags(const std::vector<std::string>& args) {
  PlanFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    std::string* target = name == "--snapshot" ? &flags.snapshot
                          : name == "--policy" ? &flags.policy
                          : name == "--now"    ? &flags.now
                          : name == "--output" ? &flags.output
                                               : nullptr;
    if (target == nullptr) return invalid_argument("unknown flag \"" + args[i] + "\"");
    if (!has_value) {
      if (i + 1 >= args.size()) return invalid_argument(name + " needs a value");
      value = args[++i];
    }
    *target = value;
  }
  if (flags.snapshot.empty()) return invalid_argument("--snapshot FILE is required");
  if (flags.output != "table" && flags.output != "json") {
    return invalid_argument("--output must be table or json, not \"" + flags.output + "\"");
  }
  return flags;
}

Result<std::string> read_input(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return read_regular_file(path);
}

}  // namespace

const char* plan_usage() {
  return "flags of plan:\n"
         "  --snapshot FILE        kubectl get nodes,pods,poddisruptionbudgets,nodegroups.ballast.dev\n"
         "                         [,daemonsets,replicasets] -A -o json (\"-\" = stdin); required\n"
         "  --policy FILE          tier policy YAML (validated)\n"
         "  --now TIME             RFC 3339 instant for the time rules (default: now)\n"
         "  --output table|json    default table\n";
}

int run_plan(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << "usage: ballast plan --snapshot FILE [--policy FILE] [--now TIME] [--output table|json]\n\n"
                << plan_usage();
      return 0;
    }
  }
  auto flags = parse_plan_flags(args);
  if (!flags) return bad_input(flags.error().message);
  if (!flags->policy.empty()) {
    if (auto policy = policy::load_policy(flags->policy); !policy) return bad_input(policy.error().message);
  }
  TimePoint now = std::chrono::system_clock::now();
  if (!flags->now.empty()) {
    auto parsed = parse_time(flags->now);
    if (!parsed) return bad_input("--now: " + parsed.error().message);
    now = *parsed;
  }
  auto text = read_input(flags->snapshot);
  if (!text) return bad_input(text.error().message);
  auto cluster = nodepool::parse_snapshot_text(*text);
  if (!cluster) return bad_input(flags->snapshot + ": " + cluster.error().message);
  text->clear();
  text->shrink_to_fit();
  const nodepool::Plan plan = nodepool::make_plan(*cluster, now);
  if (flags->output == "json") {
    std::cout << nodepool::plan_to_json(plan, *cluster).dump(2) << "\n";
  } else {
    std::cout << nodepool::plan_to_table(plan, *cluster);
  }
  return 0;
}

}  // namespace ballast::app
