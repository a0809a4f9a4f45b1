#include "app/cli.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "app/application.h"
#include "app/plan_command.h"
#include "app/probe_command.h"
#include "app/signals.h"
#include "core/config.h"
#include "demo/demo.h"

namespace ballast::app {
namespace {

constexpr const char* kUsage =
    "usage: ballast <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [flags]   run the components (default: all that can run)\n"
    "  demo [--base-port N]            every component on loopback with embedded data\n"
    "  check-config --config FILE      validate, print the effective config, exit 0/1\n"
    "  plan --snapshot FILE [flags]    what the node-pool reconciler would do to a cluster snapshot\n"
    "  probe [flags]                   one trigger as KEDA calls it: metric spec, value, activity;\n"
    "                                  --watch streams activation edges (ballast probe --help)\n"
    "  version                         print the version\n"
    "\n"
    "serve stops gracefully on SIGTERM, SIGINT or SIGHUP (drains, exits 0); it does not\n"
    "reload files on SIGHUP: restart it (the webhook certificate alone is re-read on change).\n"
    "File options must name files, not directories (a ConfigMap mount path is refused).\n"
    "\n"
    "flags of serve and check-config:\n";

int fail(const std::string& message) {
  std::cerr << "ballast: " << message << "\n";
  return 1;
}

// Defaults, then the YAML file, then flags (flags win).
Result<Config> effective_config(const std::vector<std::string>& args) {
  auto flags = parse_flags(args);
  if (!flags) return flags.error();
  Config config = default_config();
  if (!flags->config_file.empty()) {
    auto loaded = load_config_file(flags->config_file, std::move(config));
    if (!loaded) return loaded.error();
    config = std::move(*loaded);
  }
  auto applied = apply_settings(flags->settings, std::move(config));
  if (!applied) return applied.error();
  if (auto valid = validate_config(*applied); !valid) return valid.error();
  return applied;
}

int run_check_config(const std::vector<std::string>& args) {
  auto config = effective_config(args);
  if (!config) return fail(config.error().message);
  if (auto policy = load_tier_policy(*config); !policy) return fail(policy.error().message);
  std::cout << render_config(*config);
  return 0;
}

int run_serve(const std::vector<std::string>& args) {
  auto config = effective_config(args);
  if (!config) return fail(config.error().message);
  set_log_level(config->log_level);
  block_termination_signals();
  Application application(std::move(*config));
  if (auto started = application.start(); !started) {
    Logger("app").error("start-up failed", {{"error", started.error().message}});
    application.stop();
    return 1;
  }
  const int signal = wait_for_termination_signal();
  Logger("app").info("signal received", {{"signal", signal}});
  application.stop();
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage << flags_usage();
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "serve") return run_serve(args);
  if (command == "check-config") return run_check_config(args);
  if (command == "demo") return demo::run_demo(args);
  if (command == "probe") return run_probe(args);
  if (command == "plan") return run_plan(args);
  if (command == "version") {
    std::cout << "ballast " << BALLAST_VERSION << "\n";
    return 0;
  }
  std::cerr << "ballast: unknown command \"" << command << "\"\n" << kUsage << flags_usage();
  return 2;
}

}  // namespace ballast::app
