#pragma once

// Included only by the .cc files of servers: it brings in Asio's socket types.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"

namespace ballast::net {

// Accepts TCP connections on one address and hands each socket to a handler on the
// io_context's threads. Shared so pending accepts keep it alive; stop() closes it.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using Handler = std::function<void(boost::asio::ip::tcp::socket)>;

  // Binds now (so a busy port is a start-up error), accepts after start().
  static Result<std::shared_ptr<Listener>> bind(boost::asio::io_context& context, const std::string& address,
                                                Handler handler);

  Listener(boost::asio::io_context& context, Handler handler);
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  void accept_next();

  boost::asio::io_context& context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  uint16_t port_ = 0;
};

}  // namespace ballast::net
