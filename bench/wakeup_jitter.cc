// The machine's own latency floor, to read the other benchmarks against: how late a
// thread wakes from a 200 us sleep, and the round trip of two threads handing a token
// back and forth (each RPC on loopback pays at least two such wake-ups). Run it before
// and after a benchmark; the VM's steal and its neighbours show up here first.
// Usage: wakeup_jitter [--rounds N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double>& samples, double p) {
  const auto rank = std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(rank), samples.end());
  return samples[rank];
}

void report(const char* what, std::vector<double>& micros) {
  const double max = *std::max_element(micros.begin(), micros.end());
  std::printf("%s: n=%zu p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n", what, micros.size(),
              percentile(micros, 0.50), percentile(micros, 0.99), percentile(micros, 0.999), max);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20000;
  if (argc == 3 && std::string(argv[1]) == "--rounds") rounds = std::stoi(argv[2]);

  std::vector<double> late;
  late.reserve(static_cast<size_t>(rounds));
  const auto nap = std::chrono::microseconds(200);
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    std::this_thread::sleep_for(nap);
    late.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start - nap).count());
  }
  report("sleep 200 us, lateness", late);

  // The token: odd = the echo thread's turn, even = ours.
  std::atomic<unsigned> token{0};
  std::thread echo([&] {
    for (unsigned expected = 1; expected < 2u * static_cast<unsigned>(rounds); expected += 2) {
      token.wait(expected - 1);
      token.store(expected + 1);
      token.notify_one();
    }
  });
  std::vector<double> round_trips;
  round_trips.reserve(static_cast<size_t>(rounds));
  for (unsigned mine = 0; mine < 2u * static_cast<unsigned>(rounds); mine += 2) {
    const auto start = Clock::now();
    token.store(mine + 1);
    token.notify_one();
    token.wait(mine + 1);
    round_trips.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  echo.join();
  report("thread ping-pong round trip", round_trips);
  return 0;
}
