// PDB guard from a cold list: 2,000 workloads in the fake apiserver, then the real
// `ballast serve --components guard` started against it. Reports the pure planning time
// over the same objects (in this process), the time until every PDB exists, and the
// ballast process's peak RSS (VmHWM) — the fake's memory is not in that number.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "fakes/fake_apiserver.h"
#include "guard/pdb_planner.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json workload(const std::string& kind, const std::string& ns, const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
}

long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// User + system CPU seconds the process has used so far (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14 || index == 15) ticks += std::stod(field);
    if (index == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  const int workloads = argc > 1 ? std::stoi(argv[1]) : 2000;
  ballast::testing::FakeApiServerOptions options;
  options.bookmark_interval = 60s;
  ballast::testing::FakeApiServer server(options);
  server.start();
  const char* namespaces[] = {"shop", "ai-services", "databases", "monitoring", "jobs"};
  ballast::guard::PdbPlannerInput input;
  for (int i = 0; i < workloads; ++i) {
    const std::string ns = namespaces[i % 5];
    const bool stateful = i % 10 == 0;
    auto object = server.put(workload(stateful ? "StatefulSet" : "Deployment", ns, "w" + std::to_string(i), 1 + i % 5));
    (stateful ? input.stateful_sets : input.deployments).push_back(std::move(object));
  }
  const auto policy = ballast::policy::default_policy();
  const auto plan_start = std::chrono::steady_clock::now();
  const auto plan = ballast::guard::plan_pdbs(policy, input);
  const double plan_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - plan_start).count();
  const size_t expected = plan.actions.size();

  char pattern[] = "/tmp/ballast-guard-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string kubeconfig = dir + "/kubeconfig";
  std::ofstream(kubeconfig) << "current-context: fake\ncontexts: [{name: fake, context: {cluster: fake}}]\n"
                               "clusters: [{name: fake, cluster: {server: \"" << server.url() << "\"}}]\n";
  const auto started = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    execl(BALLAST_BINARY, BALLAST_BINARY, "serve", "--kubeconfig", kubeconfig.c_str(), "--components", "guard",
          "--admin-address", "127.0.0.1:0", "--log-level", "warn", nullptr);
    _exit(127);
  }
  const bool done = ballast::testing::FakeApiServer::wait_for(
      [&] { return server.list("poddisruptionbudgets").size() >= expected; }, 120s);
  const double converge_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const long rss = peak_rss_kib(child);
  const double cpu = cpu_seconds(child);
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  std::remove(kubeconfig.c_str());
  rmdir(dir.c_str());

  std::cout << "workloads: " << workloads << " (" << input.stateful_sets.size() << " StatefulSets)\n"
            << "planned PDB creates: " << expected << "\n"
            << "pure plan over the cold snapshot: " << plan_ms << " ms\n"
            << "ballast start → every PDB created: " << converge_ms << " ms" << (done ? "" : " (NOT converged)") << "\n"
            << "ballast CPU time (user+system) until then: " << cpu << " s\n"
            << "ballast peak RSS (VmHWM): " << rss / 1024.0 << " MiB\n";
  return done ? 0 : 1;
}
