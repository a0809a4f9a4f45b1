#include "net/http_server.h"

#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "fakes/loopback_client.h"
#include "net/io_pool.h"

using namespace ballast;

namespace {

// One request on a fresh loopback connection; everything the server sends until it closes.
std::string round_trip(uint16_t port, const std::string& request) {
  const int fd = testing::connect_loopback(port);
  std::string response;
  if (fd >= 0 && write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, static_cast<size_t>(n));
  }
  if (fd >= 0) close(fd);
  return response;
}

}  // namespace

TEST_CASE("the plain HTTP server answers 431 to headers over its limit and serves the rest", "[http_server]") {
  net::IoPool pool(1);
  pool.start();
  net::HttpServerOptions options;
  options.address = "127.0.0.1:0";
  auto server = net::HttpServer::start(pool, options, [](const net::HttpRequest&) {
    return net::HttpResponse{200, "text/plain", "ok\n"};
  });
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();

  const auto fine = round_trip(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(fine.rfind("HTTP/1.1 200", 0) == 0);
  const auto big = round_trip(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10'000, 'a') +
                                       "\r\nConnection: close\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 431", 0) == 0);
  (*server)->stop();
  pool.stop();
}
