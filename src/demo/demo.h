#pragma once

#include <string>
#include <vector>

namespace ballast::demo {

// `ballast demo [--base-port N]`: scaler, sessions, webhook and admin on loopback with a
// generated token and certificate; the webhook's patch per tier and a node-pool plan of an
// embedded snapshot, printed once; then a live table of what KEDA would see for the
// ScaledObjects of examples/, under simulated load. Returns the exit code.
int run_demo(const std::vector<std::string>& args);

}  // namespace ballast::demo
