#pragma once

// Included only by the .cc files of servers: it brings in Asio's socket types.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/log.h"
#include "core/result.h"

namespace ballast::net {

// How long an accept loop waits after `failures` failed accepts in a row: 10 ms, doubling,
// at most 1 s. Out of descriptors (EMFILE/ENFILE) an immediate retry fails again at once,
// so without a pause the loop spins a core and starves the connections still open.
std::chrono::milliseconds accept_backoff(unsigned failures);

// One accepted connection's place under its listener's cap. The server keeps it for as
// long as the connection lives; destroying it frees the place. When the last connection
// of a listener goes, freed memory is handed back to the OS (glibc keeps it otherwise,
// so a burst of idle connections would hold its peak RSS for good). Move-only.
class ConnectionSlot {
 public:
  struct Count {
    std::atomic<size_t> live{0};
  };
  ConnectionSlot() = default;
  explicit ConnectionSlot(std::shared_ptr<Count> count) : count_(std::move(count)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot() { release(); }

 private:
  void release();
  std::shared_ptr<Count> count_;
};

// Accepts TCP connections on one address and hands each socket, with its slot, to a
// handler on the io_context's threads. At `max_connections` open connections a new one is
// accepted and closed at once (the client sees the close, the kernel's queue does not
// fill), logged once per episode. Failed accepts back off (accept_backoff) and are logged.
// Shared so pending accepts keep it alive; stop() closes it. The accept loop, its timer and
// stop() run on one strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using Handler = std::function<void(boost::asio::ip::tcp::socket, ConnectionSlot)>;

  // Binds now (so a busy port is a start-up error), accepts after start().
  static Result<std::shared_ptr<Listener>> bind(boost::asio::io_context& context, const std::string& address,
                                                size_t max_connections, Handler handler);

  Listener(boost::asio::io_context& context, std::string address, size_t max_connections, Handler handler);
  void start();
  void stop();
  uint16_t port() const { return port_; }
  size_t open_connections() const { return count_->live.load(); }

 private:
  void accept_next();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  void back_off(const boost::system::error_code& ec);

  boost::asio::io_context& context_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  const std::string address_;
  const size_t max_connections_;
  Handler handler_;
  std::shared_ptr<ConnectionSlot::Count> count_ = std::make_shared<ConnectionSlot::Count>();
  uint16_t port_ = 0;
  unsigned failures_ = 0;  // failed accepts in a row
  bool full_ = false;      // refusing at the cap; logged when it starts
  Logger log_{"net"};
};

}  // namespace ballast::net
