#pragma once

#include <string>
#include <vector>

namespace ballast::demo {

// `ballast demo`: scaler + sessions + admin on loopback with a generated token, simulated
// publishers and example ScaledObjects, and a live table of what KEDA would see.
int run_demo(const std::vector<std::string>& args);

}  // namespace ballast::demo
