#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "net/http_types.h"

namespace ballast::net {

class IoPool;

struct HttpsServerOptions {
  std::string address;
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // PEM private key
  size_t body_limit = 8 << 20;                       // larger bodies get 413
  std::chrono::milliseconds read_timeout{10'000};    // TLS handshake, and each request once it starts
  std::chrono::milliseconds idle_timeout{120'000};   // keep-alive wait for the next request
  std::chrono::milliseconds reload_interval{2'000};  // how often the cert and key files are re-read
  // Open connections at most; more are accepted and closed at once. Each costs ~85 KB of
  // TLS state, so 1024 stay well inside the chart's 256Mi limit.
  size_t max_connections = 1024;
  std::string logger_name = "https";
  // Called on the reload thread after each change of the files: true when the new pair
  // was loaded, false when it was rejected. For metrics; must not block.
  std::function<void(bool loaded)> on_certificate_reload;
};

// HTTPS/1.1 server (TLS 1.2+, keep-alive) on the shared IoPool, with the same plain
// request → response handler as HttpServer. The handler runs on a pool thread, one strand
// per connection, and must not block.
//
// The serving certificate and key are re-read every `reload_interval` on a thread of the
// server's own (file reads never run on the event loop). When their contents change and
// form a valid pair, new connections use them; open connections keep theirs. A bad pair
// (half-written rotation, mismatched key, garbage) keeps the current certificate and is
// logged once.
//
// Owned by the composition root; the pool must outlive it. stop() (also run by the
// destructor) closes the listener and idle connections, lets requests in flight finish
// with `Connection: close` and, called off the pool's threads while the pool runs, waits
// a bounded time for them.
class HttpsServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Fails when the certificate pair cannot be loaded or the address cannot be bound.
  static Result<std::unique_ptr<HttpsServer>> start(IoPool& pool, HttpsServerOptions options, Handler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::net
