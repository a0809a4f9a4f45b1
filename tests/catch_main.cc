#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/log.h"

// Tests start real components; only their warnings and errors are worth reading.
int main(int argc, char** argv) {
  ballast::set_log_level(ballast::LogLevel::kWarn);
  return Catch::Session().run(argc, argv);
}
