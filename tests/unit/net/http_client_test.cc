#include "net/http_client.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "fakes/test_certs.h"
#include "net/http_server.h"
#include "net/io_pool.h"

using namespace ballast;
using namespace ballast::net;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A loopback peer that answers each accepted connection with canned bytes, for the
// answers a well-behaved server never gives (redirects, garbage, silence, early close).
// With certificates it speaks TLS, optionally requiring a client certificate.
class ScriptedPeer {
 public:
  struct Tls {
    std::string cert, key, client_ca;
  };
  // `replies[i]` answers the i-th connection's first request; an empty reply never answers.
  explicit ScriptedPeer(std::vector<std::string> replies, std::optional<Tls> tls = std::nullopt)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), replies_(std::move(replies)) {
    if (tls) {
      tls_.emplace(asio::ssl::context::tls_server);
      tls_->use_certificate_chain_file(tls->cert);
      tls_->use_private_key_file(tls->key, asio::ssl::context::pem);
      if (!tls->client_ca.empty()) {
        tls_->load_verify_file(tls->client_ca);
        tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      }
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedPeer() {
    stopping_ = true;
    boost::system::error_code ignored;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_; }

 private:
  template <typename Stream>
  void answer(Stream& stream, const std::string& reply) {
    asio::streambuf buffer;
    boost::system::error_code ec;
    asio::read_until(stream, buffer, "\r\n\r\n", ec);
    if (ec || reply.empty()) return;
    asio::write(stream, asio::buffer(reply), ec);
  }
  void serve() {
    for (size_t i = 0; i < replies_.size() && !stopping_; ++i) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      if (tls_) {
        asio::ssl::stream<tcp::socket&> stream(socket, *tls_);
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) answer(stream, replies_[i]);
      } else {
        answer(socket, replies_[i]);
      }
      if (replies_[i].empty()) silent_.push_back(std::move(socket));
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<asio::ssl::context> tls_;
  std::vector<std::string> replies_;
  std::vector<tcp::socket> silent_;  // connections never answered stay open until the peer goes
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string ok_reply(const std::string& body, bool keep_alive = true) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (keep_alive ? "" : "\r\nConnection: close") + "\r\n\r\n" + body;
}

struct Loop {
  Loop() { pool.start(); }
  IoPool pool{2};
};

HttpClientRequest get(const std::string& url) {
  HttpClientRequest request;
  request.url = url;
  request.timeout = 5s;
  return request;
}

std::string local(uint16_t port, const std::string& target = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + target;
}

}  // namespace

TEST_CASE("URLs are split into scheme, host, port and target", "[net][http_client]") {
  auto url = parse_url("https://mimir.monitoring:8080/prometheus?x=1#frag");
  REQUIRE(url.ok());
  CHECK(url->scheme == "https");
  CHECK(url->host == "mimir.monitoring");
  CHECK(url->port == 8080);
  CHECK(url->target == "/prometheus?x=1");
  CHECK(parse_url("http://[::1]/").value().host == "::1");
  CHECK(parse_url("http://example").value().port == 80);
  CHECK(parse_url("https://example?q").value().target == "/?q");
  for (const char* bad : {"example.com", "ftp://x", "http://", "http://x:0", "http://x:99999", "http://u:p@x/"}) {
    INFO(bad);
    CHECK(parse_url(bad).error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(url_encode("sum(rate(x{a=\"b\"}[5m]))") == "sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29");
}

TEST_CASE("Retry-After is read as delta seconds only", "[net][http_client]") {
  const auto with = [](std::map<std::string, std::string> headers) { return HttpClientResponse{503, std::move(headers), ""}; };
  CHECK(parse_retry_after(with({{"retry-after", " 30 "}})) == std::chrono::seconds(30));
  CHECK_FALSE(parse_retry_after(with({{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}})));
  CHECK_FALSE(parse_retry_after(with({{"retry-after", "-5"}})));
  CHECK_FALSE(parse_retry_after(with({})));
  // Found by fuzz/provider_response: 9223372036854 s overflowed in nanoseconds.
  CHECK(parse_retry_after(with({{"retry-after", "9223372036854"}})) == std::chrono::hours(24));
  CHECK(parse_retry_after(with({{"retry-after", "9223372036854775807"}})) == std::chrono::hours(24));
}

TEST_CASE("a GET reaches the server with its headers and returns status and body", "[net][http_client]") {
  Loop loop;
  std::map<std::string, std::string> seen;
  std::string seen_target;
  std::mutex mutex;
  auto server = HttpServer::start(loop.pool, {"127.0.0.1:0"}, [&](const HttpRequest& request) {
    std::lock_guard lock(mutex);
    seen = request.headers;
    seen_target = request.target;
    return HttpResponse{201, "application/json", R"({"ok":true})"};
  });
  REQUIRE(server.ok());
  HttpClient client(loop.pool);
  auto request = get(local((*server)->port(), "/api/v1/query?query=up"));
  request.headers = {{"X-Scope-OrgID", "team-a"}};
  auto response = client.request_sync(request);
  REQUIRE(response.ok());
  CHECK(response->status == 201);
  CHECK(response->body == R"({"ok":true})");
  CHECK(response->headers["content-type"] == "application/json");
  std::lock_guard lock(mutex);
  CHECK(seen["x-scope-orgid"] == "team-a");
  CHECK(seen["host"] == "127.0.0.1:" + std::to_string((*server)->port()));
  CHECK(seen_target == "/api/v1/query?query=up");
}

TEST_CASE("sequential requests to one peer reuse one keep-alive connection", "[net][http_client]") {
  Loop loop;
  ScriptedPeer peer({ok_reply("a")});
  HttpClient client(loop.pool);
  auto first = client.request_sync(get(local(peer.port())));
  REQUIRE(first.ok());
  CHECK(client.idle_connections() == 1);

  Loop other;
  auto server = HttpServer::start(other.pool, {"127.0.0.1:0"}, [](const HttpRequest&) { return HttpResponse{}; });
  REQUIRE(server.ok());
  for (int i = 0; i < 3; ++i) REQUIRE(client.request_sync(get(local((*server)->port()))).ok());
  CHECK(client.idle_connections() == 2);  // one per peer: the three requests shared one connection
}

TEST_CASE("a pooled connection the peer closed is replaced transparently", "[net][http_client]") {
  Loop loop;
  // The peer closes each connection after one answer, so the pooled one is dead on reuse.
  ScriptedPeer peer({ok_reply("first"), ok_reply("second")});
  HttpClient client(loop.pool);
  REQUIRE(client.request_sync(get(local(peer.port()))).value().body == "first");
  auto second = client.request_sync(get(local(peer.port())));
  INFO((second.ok() ? "" : second.error().message));
  REQUIRE(second.ok());
  CHECK(second->body == "second");
  CHECK(peer.connections() == 2);
}

TEST_CASE("a redirect is an error naming its Location", "[net][http_client]") {
  Loop loop;
  ScriptedPeer peer({"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/login\r\nContent-Length: 0\r\n\r\n"});
  HttpClient client(loop.pool);
  auto response = client.request_sync(get(local(peer.port())));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::kIo);
  CHECK(response.error().message.find("http://elsewhere/login") != std::string::npos);
}

TEST_CASE("a body over the limit is an error", "[net][http_client]") {
  Loop loop;
  auto server = HttpServer::start(loop.pool, {"127.0.0.1:0"}, [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", std::string(5000, 'x')};
  });
  REQUIRE(server.ok());
  HttpClient client(loop.pool);
  auto request = get(local((*server)->port()));
  request.body_limit = 1000;
  auto response = client.request_sync(request);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::kIo);
  CHECK(response.error().message.find("1000") != std::string::npos);
}

TEST_CASE("garbage instead of HTTP is an error", "[net][http_client]") {
  Loop loop;
  ScriptedPeer peer({"SSH-2.0-OpenSSH_9.2\r\n\r\n"});
  HttpClient client(loop.pool);
  auto response = client.request_sync(get(local(peer.port())));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == ErrorCode::kIo);
}

TEST_CASE("a silent server times out within the request budget", "[net][http_client]") {
  Loop loop;
  ScriptedPeer peer({""});
  HttpClient client(loop.pool);
  auto request = get(local(peer.port()));
  request.timeout = 200ms;
  const auto started = std::chrono::steady_clock::now();
  auto response = client.request_sync(request);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(response.ok());
  INFO(response.error().message);
  CHECK(response.error().code == ErrorCode::kUnavailable);
  CHECK(response.error().message.find("timed out") != std::string::npos);
  CHECK(took < 3s);
}

TEST_CASE("a refused connection and a bad URL are errors, never exceptions", "[net][http_client]") {
  Loop loop;
  uint16_t closed_port = 0;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = acceptor.local_endpoint().port();
  }
  HttpClient client(loop.pool);
  auto refused = client.request_sync(get(local(closed_port)));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kUnavailable);
  auto bad = client.request_sync(get("mimir:8080/prometheus"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("TLS verifies the peer against the configured CA and hostname", "[net][http_client][tls]") {
  testing::TestCerts certs;
  REQUIRE(certs.ok());
  Loop loop;
  HttpClient client(loop.pool);
  const ScriptedPeer::Tls server_tls{certs.path("server.crt"), certs.path("server.key"), ""};

  SECTION("trusted CA: the exchange succeeds, by IP and by name") {
    ScriptedPeer peer({ok_reply("secure"), ok_reply("named")}, server_tls);
    auto request = get("https://127.0.0.1:" + std::to_string(peer.port()) + "/");
    request.tls.ca_file = certs.path("ca.crt");
    auto response = client.request_sync(request);
    INFO((response.ok() ? "" : response.error().message));
    REQUIRE(response.ok());
    CHECK(response->body == "secure");
    request.url = "https://localhost:" + std::to_string(peer.port()) + "/";
    auto named = client.request_sync(request);
    INFO((named.ok() ? "" : named.error().message));
    CHECK(named.ok());
  }
  SECTION("unknown CA: the handshake fails unless verification is skipped") {
    ScriptedPeer peer({ok_reply("x"), ok_reply("y")}, server_tls);
    auto request = get("https://127.0.0.1:" + std::to_string(peer.port()) + "/");
    auto refused = client.request_sync(request);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kUnavailable);
    request.tls.insecure_skip_verify = true;
    CHECK(client.request_sync(request).ok());
  }
  SECTION("a peer that requires a client certificate gets one from cert and key files") {
    ScriptedPeer peer({ok_reply("x"), ok_reply("mutual")},
                      ScriptedPeer::Tls{certs.path("server.crt"), certs.path("server.key"), certs.path("ca.crt")});
    auto request = get("https://127.0.0.1:" + std::to_string(peer.port()) + "/");
    request.tls.ca_file = certs.path("ca.crt");
    CHECK_FALSE(client.request_sync(request).ok());
    request.tls.cert_file = certs.path("client.crt");
    request.tls.key_file = certs.path("client.key");
    auto response = client.request_sync(request);
    INFO((response.ok() ? "" : response.error().message));
    REQUIRE(response.ok());
    CHECK(response->body == "mutual");
  }
  SECTION("an unreadable CA file is an argument error") {
    auto request = get("https://127.0.0.1:1/");
    request.tls.ca_file = certs.path("missing.crt");
    auto response = client.request_sync(request);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().code == ErrorCode::kInvalidArgument);
  }
}
