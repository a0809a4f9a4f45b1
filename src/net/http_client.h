#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ballast::net {

class IoPool;

// How an https:// peer is trusted and how we prove who we are. Part of the connection
// pool's key: requests with different settings never share a connection.
struct TlsOptions {
  std::string ca_file;    // PEM bundle to trust; empty → the system's default CAs
  std::string cert_file;  // client certificate (mTLS); needs key_file
  std::string key_file;
  bool insecure_skip_verify = false;  // no chain or hostname check (development only)

  auto operator<=>(const TlsOptions&) const = default;
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  // http[s]://host[:port][/path][?query]; IPv6 hosts in brackets
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  TlsOptions tls;  // used for https:// only
  // Budget for resolve + connect + TLS handshake of a new connection.
  std::chrono::milliseconds connect_timeout{3'000};
  // Budget for the whole exchange, connecting included: past it the request fails.
  std::chrono::milliseconds timeout{10'000};
  size_t body_limit = 8u << 20;  // a larger response body is an error
};

struct HttpClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// The parts of an http(s) URL a connection needs.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  uint16_t port = 0;   // explicit, or the scheme's default
  std::string target;  // path plus query, at least "/"
};
// kInvalidArgument for anything but a well-formed absolute http(s) URL.
Result<Url> parse_url(std::string_view url);

// A response's Retry-After as delta seconds, at most a day; nullopt when absent, malformed
// or an HTTP date (servers that throttle send seconds).
std::optional<std::chrono::seconds> parse_retry_after(const HttpClientResponse& response);

// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
std::string url_encode(std::string_view text);

// HTTP/1.1 client on the shared IoPool: keep-alive pool per (scheme, host, port, TLS
// settings), DNS without blocking, timeouts on every step, SNI and hostname verification,
// bounded response bodies. Redirects are refused: a 3xx is an error naming its Location,
// so a credential never follows a redirect to another host. Any other status is a
// response; the caller decides what a 4xx/5xx means.
//
// Owned by a component (a source, the Kubernetes client); thread-safe. A request in
// flight keeps the client's internals alive, so destroying the client never cancels a
// callback into freed memory; callers whose callbacks capture their own state must guard
// it themselves. Callbacks run on an IoPool thread and must not block. Errors:
// kInvalidArgument (bad URL, unreadable TLS files), kUnavailable (resolve, connect,
// handshake, timeout, connection lost), kIo (redirect, body over the limit, malformed
// response).
class HttpClient {
 public:
  struct Options {
    size_t max_idle_per_peer = 4;                // idle keep-alive connections kept per pool key
    std::chrono::milliseconds idle_timeout{30'000};  // older idle connections are not reused
  };
  using Callback = std::function<void(Result<HttpClientResponse>)>;
  // Receives a streamed body piece by piece, in order; returning false ends the stream.
  using DataCallback = std::function<bool(std::string_view piece)>;

  explicit HttpClient(IoPool& pool);
  HttpClient(IoPool& pool, Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts the request and returns at once; `callback` is called exactly once while the
  // IoPool runs.
  void request(HttpClientRequest request, Callback callback);

  // Streams a long response (a Kubernetes watch) on a connection of its own. A 2xx body
  // goes to `on_data` as it arrives, and `callback` then gets the status and headers with
  // an empty body when the server ends the response; any other status is read whole and
  // given to `callback` like request() does. The stream ends with kUnavailable when the
  // connection drops, `request.timeout` passes, or the returned canceller is called (safe
  // from any thread, any number of times, also after the end). `request.body_limit` does
  // not apply to a streamed body: the consumer bounds what it buffers.
  std::function<void()> stream(HttpClientRequest request, DataCallback on_data, Callback callback);

  // Blocking facade for tests and tools. Never call it from an IoPool thread.
  Result<HttpClientResponse> request_sync(HttpClientRequest request);

  // Idle keep-alive connections currently pooled, all keys together (for tests).
  size_t idle_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ballast::net
