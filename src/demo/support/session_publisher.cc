#include "demo/support/session_publisher.h"

#include <deque>
#include <functional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace ballast::sessions {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// Bounds connect, handshake, send, ping and close.
constexpr std::chrono::seconds kCallTimeout{5};
constexpr std::chrono::seconds kCloseTimeout{2};

// State of one async operation, shared with its handler so an operation abandoned on
// timeout never writes into a dead stack frame.
struct Pending {
  bool done = false;
  beast::error_code ec;
  std::string payload;
  websocket::response_type response;
};

}  // namespace

struct SessionPublisher::Impl {
  asio::io_context context;
  websocket::stream<beast::tcp_stream> ws{context};
  beast::flat_buffer buffer;
  bool reading = false;
  bool closed = false;  // by close(), or given up after a timed-out call
  std::deque<std::string> inbox;
  std::optional<beast::error_code> read_error;
  std::optional<websocket::close_reason> server_close;

  // Runs handlers on this thread until `done` holds or the deadline passes.
  bool run_until(const std::function<bool()>& done, SteadyTime deadline) {
    while (!done()) {
      if (context.stopped()) context.restart();
      if (context.run_one_until(deadline) == 0) return done();
    }
    return true;
  }

  bool await(const std::shared_ptr<Pending>& pending, std::chrono::milliseconds timeout) {
    return run_until([&pending] { return pending->done; }, std::chrono::steady_clock::now() + timeout);
  }

  void start_read() {
    reading = true;
    ws.async_read(buffer, [this](beast::error_code ec, size_t) {
      reading = false;
      if (ec) {
        read_error = ec;
        // A close frame may have arrived even when tearing the connection down failed.
        if (ws.reason().code != websocket::close_code::none) server_close = ws.reason();
        return;
      }
      inbox.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
    });
  }

  void give_up() {
    closed = true;
    beast::get_lowest_layer(ws).close();
  }

  Error gone() const {
    if (server_close) {
      std::string message = "closed by server with code " + std::to_string(server_close->code);
      if (!server_close->reason.empty()) message += " (" + std::string(server_close->reason.c_str()) + ")";
      return io_error(std::move(message));
    }
    if (read_error) return io_error("connection lost: " + read_error->message());
    return io_error("connection is closed");
  }

  template <typename Start>
  Status run_write(const char* what, Start start) {
    if (closed || read_error) return gone();
    auto pending = std::make_shared<Pending>();
    start(pending);
    if (!await(pending, kCallTimeout)) {
      give_up();
      return io_error(std::string(what) + " timed out");
    }
    if (pending->ec) return io_error(std::string(what) + " failed: " + pending->ec.message());
    return Ok{};
  }
};

SessionPublisher::SessionPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SessionPublisher::~SessionPublisher() { close(); }

Result<std::unique_ptr<SessionPublisher>> SessionPublisher::connect(const std::string& host, uint16_t port,
                                                                    const std::string& token,
                                                                    std::string_view target,
                                                                    const std::string& publisher) {
  auto impl = std::make_unique<Impl>();
  const std::string where = host + ":" + std::to_string(port);

  beast::error_code ec;
  tcp::resolver resolver(impl->context);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return io_error("cannot resolve " + where + ": " + ec.message());

  auto& socket_layer = beast::get_lowest_layer(impl->ws);
  auto connected = std::make_shared<Pending>();
  socket_layer.expires_after(kCallTimeout);
  socket_layer.async_connect(endpoints, [connected](beast::error_code error, const tcp::endpoint&) {
    connected->done = true;
    connected->ec = error;
  });
  if (!impl->await(connected, kCallTimeout) || connected->ec) {
    return io_error("cannot connect to " + where + ": " +
                    (connected->ec ? connected->ec.message() : std::string("timed out")));
  }
  socket_layer.expires_never();

  impl->ws.set_option(websocket::stream_base::timeout{kCallTimeout, websocket::stream_base::none(), false});
  impl->ws.set_option(websocket::stream_base::decorator([token, publisher](websocket::request_type& request) {
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (!publisher.empty()) request.set(kPublisherHeader, publisher);
  }));
  auto upgraded = std::make_shared<Pending>();
  impl->ws.async_handshake(upgraded->response, where, target, [upgraded](beast::error_code error) {
    upgraded->done = true;
    upgraded->ec = error;
  });
  if (!impl->await(upgraded, kCallTimeout)) {
    impl->give_up();
    return io_error("WebSocket handshake with " + where + " timed out");
  }
  if (upgraded->ec == websocket::error::upgrade_declined) {
    return io_error("server refused the upgrade: HTTP " + std::to_string(upgraded->response.result_int()) + " " +
                    std::string(upgraded->response.reason()));
  }
  if (upgraded->ec) return io_error("WebSocket handshake with " + where + " failed: " + upgraded->ec.message());
  impl->ws.text(true);
  return std::unique_ptr<SessionPublisher>(new SessionPublisher(std::move(impl)));
}

Status SessionPublisher::send(std::string_view text) {
  return impl_->run_write("send", [this, text](const std::shared_ptr<Pending>& pending) {
    pending->payload = std::string(text);
    impl_->ws.async_write(asio::buffer(pending->payload), [pending](beast::error_code ec, size_t) {
      pending->done = true;
      pending->ec = ec;
    });
  });
}

Status SessionPublisher::send_binary(std::string_view bytes) {
  impl_->ws.binary(true);
  auto sent = send(bytes);
  impl_->ws.text(true);
  return sent;
}

Status SessionPublisher::ping() {
  return impl_->run_write("ping", [this](const std::shared_ptr<Pending>& pending) {
    impl_->ws.async_ping({}, [pending](beast::error_code ec) {
      pending->done = true;
      pending->ec = ec;
    });
  });
}

Result<std::string> SessionPublisher::receive(std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  const auto take = [&impl] {
    std::string text = std::move(impl.inbox.front());
    impl.inbox.pop_front();
    return text;
  };
  if (!impl.inbox.empty()) return take();
  if (impl.read_error) return impl.gone();
  if (impl.closed && !impl.reading) return impl.gone();
  if (!impl.reading) impl.start_read();
  // A read still pending after the timeout stays pending: the next receive() picks it up.
  impl.run_until([&impl] { return !impl.inbox.empty() || impl.read_error.has_value(); },
                 std::chrono::steady_clock::now() + timeout);
  if (!impl.inbox.empty()) return take();
  if (impl.read_error) return impl.gone();
  return unavailable("no frame within " + std::to_string(timeout.count()) + "ms");
}

void SessionPublisher::close() {
  auto& impl = *impl_;
  if (impl.closed) return;
  if (!impl.read_error) {
    auto pending = std::make_shared<Pending>();
    impl.ws.async_close(websocket::close_code::normal, [pending](beast::error_code ec) {
      pending->done = true;
      pending->ec = ec;
    });
    impl.await(pending, kCloseTimeout);
  }
  impl.give_up();
}

std::optional<int> SessionPublisher::close_code() const {
  if (!impl_->server_close) return std::nullopt;
  return static_cast<int>(impl_->server_close->code);
}

}  // namespace ballast::sessions
