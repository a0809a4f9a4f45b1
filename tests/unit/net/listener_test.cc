#include "net/listener.h"

#include <unistd.h>

#include <future>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "fakes/loopback_client.h"
#include "net/io_pool.h"

using namespace ballast;
using namespace std::chrono_literals;

namespace {

int connect_to(uint16_t port) {
  const int fd = testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("accept back-off doubles from 10 ms to at most 1 s", "[listener]") {
  struct Row {
    unsigned failures;
    std::chrono::milliseconds wait;
  };
  const Row rows[] = {{0, 0ms}, {1, 10ms}, {2, 20ms}, {3, 40ms}, {7, 640ms}, {8, 1000ms}, {1000, 1000ms}};
  for (const auto& row : rows) {
    INFO(row.failures);
    CHECK(net::accept_backoff(row.failures) == row.wait);
  }
}

TEST_CASE("a listener at its connection cap closes new connections until a slot frees", "[listener]") {
  net::IoPool pool(1);
  pool.start();
  std::mutex mutex;
  std::vector<std::pair<boost::asio::ip::tcp::socket, net::ConnectionSlot>> held;
  std::vector<std::promise<void>> arrivals(3);
  size_t arrived = 0;
  auto listener = net::Listener::bind(pool.context(), "127.0.0.1:0", 2,
                                      [&](boost::asio::ip::tcp::socket socket, net::ConnectionSlot slot) {
                                        std::lock_guard lock(mutex);
                                        held.emplace_back(std::move(socket), std::move(slot));
                                        arrivals.at(arrived++).set_value();
                                      });
  REQUIRE(listener.ok());
  (*listener)->start();
  const uint16_t port = (*listener)->port();

  const int first = connect_to(port);
  const int second = connect_to(port);
  arrivals[0].get_future().wait();
  arrivals[1].get_future().wait();
  CHECK((*listener)->open_connections() == 2);

  // The third is accepted and closed at once: the client reads end of stream.
  const int third = connect_to(port);
  char byte = 0;
  CHECK(read(third, &byte, 1) == 0);

  {
    std::lock_guard lock(mutex);
    held.erase(held.begin());  // the first connection ends: its slot frees
  }
  CHECK((*listener)->open_connections() == 1);
  const int fourth = connect_to(port);
  arrivals[2].get_future().wait();
  CHECK((*listener)->open_connections() == 2);

  for (int fd : {first, second, third, fourth}) close(fd);
  (*listener)->stop();
  pool.stop();
  std::lock_guard lock(mutex);
  held.clear();
}
