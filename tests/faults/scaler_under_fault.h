#pragma once

// The fault suite's view of ballast: `ballast serve --components scaler` as a child
// process, as a pod runs it, with its log in a file, its /metrics and its memory readable,
// asked the way KEDA asks (GetMetricSpec, GetMetrics, IsActive). The checks every fault
// shares live here: while a dependency fails KEDA reads the last good value or
// UNAVAILABLE, never anything else; the scaler recovers on its own; no secret leaks.

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "fakes/keda_client.h"
#include "fakes/serve_process.h"
#include "fakes/shell.h"

namespace ballast::testing {

class ScalerUnderFault {
 public:
  ScalerUnderFault() : grpc_port_(free_port()), admin_port_(free_port()), log_path_(dir_.path + "/ballast.log") {
    const std::string command = std::string("exec ") + BALLAST_BINARY +
                                " serve --components scaler --log-level info --grpc-address 127.0.0.1:" +
                                std::to_string(grpc_port_) + " --admin-address 127.0.0.1:" +
                                std::to_string(admin_port_) + " 2>" + log_path_;
    child_.start("/bin/sh", {"-c", command});
    REQUIRE(becomes_ready(admin_port_));
    stub_ = externalscaler::ExternalScaler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  }

  externalscaler::ExternalScaler::Stub& stub() { return *stub_; }
  std::string metrics() const { return http_get(admin_port_, "/metrics"); }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // False once the process has died (a crash ends the test's claims).
  bool running() const {
    int status = 0;
    return waitpid(child_.pid(), &status, WNOHANG) == 0;
  }
  // Resident and peak resident memory in KiB (VmRSS, VmHWM of /proc/<pid>/status).
  long rss_kib() const { return status_kib("VmRSS:"); }
  long peak_rss_kib() const { return status_kib("VmHWM:"); }

 private:
  long status_kib(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(child_.pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
    }
    return -1;
  }

  TempDir dir_;
  const uint16_t grpc_port_;
  const uint16_t admin_port_;
  const std::string log_path_;
  ChildProcess child_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

// What KEDA saw while a fault lasted, polling without pause.
struct FaultWatch {
  std::vector<std::string> wrong;  // answers that were neither the last good value nor UNAVAILABLE
  std::chrono::milliseconds last_good_at{-1};   // when (after the fault began) the last good value was served
  std::chrono::milliseconds unavailable_at{-1};  // when GetMetrics and IsActive were both UNAVAILABLE
  KedaPoll last;
  int polls = 0;
};

inline std::string describe(const KedaPoll& poll) {
  if (!poll.metrics_status.ok()) {
    return "GetMetrics " + scaler::status_code_name(poll.metrics_status.error_code()) + ": " +
           poll.metrics_status.error_message();
  }
  if (!poll.active_status.ok()) return "IsActive " + scaler::status_code_name(poll.active_status.error_code());
  std::ostringstream out;
  out << "value " << poll.value << (poll.active ? " active" : " inactive");
  return out.str();
}

// Polls as KEDA does from the moment a fault begins until both GetMetrics and IsActive
// answer UNAVAILABLE (or `limit` passes). Any other answer than `last_good` or UNAVAILABLE
// is recorded as wrong: a zero, a partial value, another status code.
inline FaultWatch watch_fault(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                              double last_good, std::chrono::milliseconds limit) {
  using namespace std::chrono;
  FaultWatch watch;
  const auto began = steady_clock::now();
  while (steady_clock::now() - began < limit) {
    watch.last = keda_poll(stub, ref);
    ++watch.polls;
    const auto at = duration_cast<milliseconds>(steady_clock::now() - began);
    const auto& metrics = watch.last.metrics_status;
    const auto& active = watch.last.active_status;
    const bool unavailable = metrics.error_code() == grpc::StatusCode::UNAVAILABLE &&
                             active.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (unavailable) {
      watch.unavailable_at = at;
      break;
    }
    if (metrics.ok() && watch.last.value == last_good) {
      watch.last_good_at = at;
    } else if (!(metrics.error_code() == grpc::StatusCode::UNAVAILABLE)) {
      watch.wrong.push_back(describe(watch.last));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return watch;
}

// Polls until KEDA reads `expected` again; the last poll.
inline KedaPoll recovers_to(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                            double expected, std::chrono::milliseconds limit) {
  return poll_until(stub, ref, [expected](const KedaPoll& p) { return p.metrics_status.ok() && p.value == expected; },
                    limit);
}

// Memory a fault may leave behind in ballast's RSS: freed buffers go back to the kernel.
inline constexpr long kRssSlackKib = 8 << 10;

// After a fault clears: KEDA reads `expected` (active) again without a restart, the process
// never died, and its RSS is back within kRssSlackKib of `rss_before_kib`.
inline void recovers_on_its_own(ScalerUnderFault& ballast, const externalscaler::ScaledObjectRef& ref,
                                double expected, std::chrono::milliseconds limit, long rss_before_kib) {
  const auto healed = recovers_to(ballast.stub(), ref, expected, limit);
  INFO(describe(healed));
  CHECK(healed.metrics_status.ok());
  CHECK(healed.active);
  CHECK(ballast.running());
  const long rss_after_kib = ballast.rss_kib();
  INFO("RSS " << rss_before_kib << " KiB before the fault, " << rss_after_kib << " KiB after");
  CHECK(rss_after_kib < rss_before_kib + kRssSlackKib);
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  return all;
}

// The value of the first series whose line starts with `series` (name and labels), or
// nullopt when /metrics has none.
inline std::optional<double> series_value(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series, 0) == 0 && line.size() > series.size() && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// The sample of one /metrics line (the number after its last space).
inline double sample_of(const std::string& line) { return std::stod(line.substr(line.rfind(' ') + 1)); }

// The lines of `text` that contain `needle`.
inline std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(needle) != std::string::npos) found.push_back(line);
  }
  return found;
}

}  // namespace ballast::testing
