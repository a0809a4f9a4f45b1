#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/log.h"

// Tests start real components; only their warnings and errors are worth reading unless
// BALLAST_TEST_LOG_LEVEL (debug, info, ...) asks for more while chasing a failure.
int main(int argc, char** argv) {
  ballast::set_log_level(ballast::LogLevel::kWarn);
  if (const char* level = std::getenv("BALLAST_TEST_LOG_LEVEL"); level != nullptr) {
    if (auto parsed = ballast::parse_log_level(level)) ballast::set_log_level(*parsed);
  }
  return Catch::Session().run(argc, argv);
}
