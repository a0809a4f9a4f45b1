#include "app/signals.h"

#include <cerrno>
#include <csignal>
#include <ctime>

namespace ballast::app {
namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // SIGHUP (a closed terminal, or a supervisor's "reload") stops gracefully like SIGTERM
  // instead of killing the process mid-request; the files are re-read by restarting.
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = termination_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_termination_signal() {
  const sigset_t set = termination_set();
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

std::optional<int> wait_for_termination_signal(std::chrono::milliseconds timeout) {
  const sigset_t set = termination_set();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec wait{static_cast<time_t>(seconds.count()),
                      static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  const int signal = sigtimedwait(&set, nullptr, &wait);
  if (signal < 0) return std::nullopt;
  return signal;
}

}  // namespace ballast::app
