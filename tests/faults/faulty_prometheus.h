#pragma once

// A Prometheus query API that fails on demand, on a real loopback socket, so ballast's
// HTTP client meets each failure on the wire as it would from a sick Prometheus or Mimir.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "fakes/loopback_server.h"

namespace ballast::testing {

class FaultyPrometheus {
 public:
  enum class Mode {
    kHealthy,             // 200 with a one-sample vector of value()
    kServerError,         // 500
    kRetryLater,          // 503 with Retry-After: retry_after_seconds
    kInvalidJson,         // 200 whose body is not JSON
    kTrickleForever,      // 200 chunked, one byte every 50 ms, never ending
    kShortContentLength,  // 200 declaring 1000 bytes, sending 10, then silence
    kStall,               // reads the query, answers nothing, ever (a 30 s stall and longer)
    kHugeDeclared,        // 200 with Content-Length 100 MiB, sent as fast as the peer reads
    kHugeChunked,         // 200 chunked, 100 MiB in 64 KiB chunks, as fast as the peer reads
  };
  static constexpr size_t kHugeBytes = size_t{100} << 20;

  FaultyPrometheus() : server_("faulty prometheus", [this](boost::asio::ip::tcp::socket& s) { return serve(s); }) {
    server_.start();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void set_mode(Mode mode) { mode_ = mode; }
  void set_value(double value) { value_ = value; }
  // Connection refused until accept_again(), on the same port.
  void refuse() { server_.stop(); }
  void accept_again() { server_.start(); }
  int queries() const { return queries_; }
  // Body bytes written by the huge and endless answers, all connections together.
  size_t body_bytes_sent() const { return body_bytes_sent_; }

  std::atomic<int> retry_after_seconds{2};

 private:
  using Socket = boost::asio::ip::tcp::socket;

  // One connection: answers queries until the peer closes it or an answer ends it. Returns
  // true to drop the connection abruptly.
  bool serve(Socket& socket) {
    boost::asio::streambuf head;
    while (true) {
      boost::system::error_code ec;
      const size_t length = boost::asio::read_until(socket, head, "\r\n\r\n", ec);
      if (ec) return false;
      head.consume(length);
      ++queries_;
      switch (mode_.load()) {
        case Mode::kHealthy:
          if (!send(socket, answer(200, "application/json", vector_body()))) return false;
          break;
        case Mode::kServerError:
          if (!send(socket, answer(500, "text/plain", "internal server error"))) return false;
          break;
        case Mode::kRetryLater:
          if (!send(socket, answer(503, "text/plain", "overloaded", "Retry-After: " +
                                                                          std::to_string(retry_after_seconds.load()) + "\r\n"))) {
            return false;
          }
          break;
        case Mode::kInvalidJson:
          if (!send(socket, answer(200, "application/json", "<html>502 Bad Gateway</html>"))) return false;
          break;
        case Mode::kTrickleForever:
          send(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
          while (send(socket, "1\r\n \r\n")) std::this_thread::sleep_for(std::chrono::milliseconds(50));
          return true;
        case Mode::kShortContentLength:
          send(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":");
          wait_for_close(socket);
          return true;
        case Mode::kStall:
          wait_for_close(socket);
          return true;
        case Mode::kHugeDeclared:
          send(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(kHugeBytes) + "\r\n\r\n");
          send_huge(socket, false);
          return true;
        case Mode::kHugeChunked:
          send(socket, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
          send_huge(socket, true);
          return true;
      }
    }
  }

  std::string vector_body() const {
    return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,")" +
           std::to_string(static_cast<int64_t>(value_.load())) + R"("]}]}})";
  }

  static std::string answer(int status, const std::string& type, const std::string& body,
                            const std::string& extra_headers = "") {
    const char* reason = status == 200 ? "OK" : status == 500 ? "Internal Server Error" : "Service Unavailable";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
  }

  static bool send(Socket& socket, const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(bytes), ec);
    return !ec;
  }

  void send_huge(Socket& socket, bool chunked) {
    const std::string block(64 << 10, ' ');
    std::string chunk = chunked ? "10000\r\n" + block + "\r\n" : block;
    for (size_t sent = 0; sent < kHugeBytes; sent += block.size()) {
      if (!send(socket, chunk)) return;
      body_bytes_sent_ += block.size();
    }
    if (chunked) send(socket, "0\r\n\r\n");
  }

  // Blocks until the peer closes the connection (it gave up) or stop() shuts it: only the
  // client's own timeout ends a stall.
  static void wait_for_close(Socket& socket) {
    char byte;
    boost::system::error_code ec;
    while (!ec) socket.read_some(boost::asio::buffer(&byte, 1), ec);
  }

  std::atomic<Mode> mode_{Mode::kHealthy};
  std::atomic<double> value_{7};
  std::atomic<int> queries_{0};
  std::atomic<size_t> body_bytes_sent_{0};
  LoopbackServer server_;  // last: stopped before the state its connections use goes
};

}  // namespace ballast::testing
