#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "net/http_types.h"

namespace ballast::net {

class IoPool;

struct HttpServerOptions {
  std::string address;
  size_t body_limit = 1 << 20;
  std::chrono::milliseconds read_timeout{10'000};
  // Open connections at most; more are accepted and closed at once. Scrapes and probes
  // need a handful.
  size_t max_connections = 64;
};

// Plain HTTP/1.1 server with keep-alive on the shared IoPool. The handler runs on a
// pool thread and must not block. Owned by the composition root; stop() (also run by the
// destructor) closes the listener and idle connections, lets an answer being written
// finish and, called off the pool's threads while the pool runs, waits a bounded time.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  static Result<std::unique_ptr<HttpServer>> start(IoPool& pool, const HttpServerOptions& options, Handler handler);
  ~HttpServer();

  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace ballast::net
