#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "net/http_client.h"

namespace ballast::testing {

// A free loopback port: bound to 0 then released, so a child process can take it.
inline uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// The real Prometheus server (Debian's /usr/bin/prometheus) on a free loopback port,
// served under /prometheus as Mimir serves its API, scraping `target` (host:port) every
// second, and itself (a few hundred series for heavier queries). Its data directory survives stop()/start() so a restart keeps history; the
// destructor kills the child and removes the directory.
class PrometheusProcess {
 public:
  explicit PrometheusProcess(const std::string& target) : port_(free_loopback_port()) {
    char pattern[] = "/tmp/ballast-prom-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                               "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
                                               "      - targets: ['"
                                            << target
                                            << "']\n"
                                               "  - job_name: prometheus\n    metrics_path: /prometheus/metrics\n"
                                               "    static_configs:\n      - targets: ['127.0.0.1:"
                                            << port_ << "']\n";
  }
  ~PrometheusProcess() {
    kill();
    std::filesystem::remove_all(dir_);
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  bool start() {
    if (pid_ > 0) return true;
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/prometheus.log";
      if (freopen(log.c_str(), "a", stdout) == nullptr || freopen(log.c_str(), "a", stderr) == nullptr) _exit(126);
      const std::string config = "--config.file=" + dir_ + "/prometheus.yml";
      const std::string storage = "--storage.tsdb.path=" + dir_ + "/data";
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      const std::string external = "--web.external-url=" + base + "/prometheus";
      execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(), external.c_str(),
            "--log.level=warn", static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid_ > 0;
  }

  // SIGKILL, as an outage looks from outside; waits for the child so the port frees.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }
  // The Mimir-style base URL: serverAddress for a trigger.
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/prometheus"; }

  // Polls `query` through `client` until it has one sample, for at most `budget`.
  bool wait_for_data(net::HttpClient& client, const std::string& query, std::chrono::seconds budget) const {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < deadline) {
      net::HttpClientRequest request;
      request.url = base_url() + "/api/v1/query?query=" + net::url_encode(query);
      request.timeout = std::chrono::seconds(2);
      auto response = client.request_sync(request);
      if (response.ok() && response->status == 200 && response->body.find("\"value\"") != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace ballast::testing
