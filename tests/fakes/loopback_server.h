#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace ballast::testing {

// The fakes' blocking TCP server: listens on 127.0.0.1 at a free port and serves each
// connection on a thread of its own. `serve` reads and answers on the socket until the
// peer, the fake or stop() ends it, and returns true to end the connection abruptly
// (both directions shut at once, as a dropped connection looks) instead of a clean close.
class LoopbackServer {
 public:
  using Serve = std::function<bool(boost::asio::ip::tcp::socket&)>;

  LoopbackServer(std::string name, Serve serve);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // Throws std::runtime_error naming the server when it cannot listen. Idempotent. A start
  // after stop() listens on the first start's port again.
  void start();
  // Stops accepting, shuts down every open connection (blocked reads return) and joins
  // their threads. Idempotent.
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::testing
