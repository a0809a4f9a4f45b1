#pragma once

#include <string>
#include <vector>

namespace ballast::app {

// `ballast plan --snapshot FILE [--policy FILE] [--now TIME] [--output table|json]`:
// what the node-pool planners would do to a cluster snapshot. Prints the plan on stdout;
// exits 0 whatever the plan, 2 on bad flags or bad input (message on stderr).
int run_plan(const std::vector<std::string>& args);

// The flags of `plan`, for the CLI's usage text.
const char* plan_usage();

}  // namespace ballast::app
