#pragma once

#include <chrono>
#include <optional>

namespace ballast::app {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it starts later, so
// the main thread can take them synchronously with the functions below.
void block_termination_signals();
int wait_for_termination_signal();
// The signal, or nothing when `timeout` passed first.
std::optional<int> wait_for_termination_signal(std::chrono::milliseconds timeout);

}  // namespace ballast::app
