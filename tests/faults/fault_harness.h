#pragma once

// What every case of the apiserver and provider fault suites shares: the process's log
// lines captured while a fault plays out, its resident memory, and the check that neither
// the logs nor /metrics carry a credential.

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/log.h"

namespace ballast::testing {

// Sends stderr (where ballast writes its JSON log lines) to a temporary file while alive,
// at debug level so every line ballast can write is searched for secrets. One per test at
// a time; restores stderr and the test runner's warn level when destroyed.
class LogCapture {
 public:
  LogCapture() {
    char pattern[] = "/tmp/ballast-fault-log-XXXXXX";
    const int fd = ::mkstemp(pattern);
    REQUIRE(fd >= 0);
    path_ = pattern;
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    set_log_level(LogLevel::kDebug);
  }
  ~LogCapture() {
    set_log_level(LogLevel::kWarn);
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::unlink(path_.c_str());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const {
    std::fflush(stderr);
    std::ifstream in(path_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // Log lines (whole JSON objects) that contain every one of `words`.
  std::vector<std::string> lines_with(const std::vector<std::string>& words) const {
    std::vector<std::string> out;
    std::istringstream lines(text());
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const auto& word : words) all = all && line.find(word) != std::string::npos;
      if (all) out.push_back(line);
    }
    return out;
  }

 private:
  std::string path_;
  int saved_ = -1;
};

// Resident set size of this process, from /proc/self/statm.
inline size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// The value of one series in Prometheus text (`name{labels}` exactly as rendered), or -1
// when the series is absent.
inline double sample(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// No credential in what an operator or a scraper sees.
inline void check_no_secret(const std::string& logs, const std::string& metrics, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    INFO("secret " << secret);
    CHECK(logs.find(secret) == std::string::npos);
    CHECK(metrics.find(secret) == std::string::npos);
  }
}

}  // namespace ballast::testing
