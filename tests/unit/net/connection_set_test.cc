#include "net/connection_set.h"

#include <atomic>
#include <future>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <catch2/catch.hpp>

#include "net/io_pool.h"

using namespace ballast;

namespace {

// A connection as a server keeps one: leaves the set when destroyed; shut_down() drops
// the server-side reference that kept it open (as closing a socket ends its handlers).
struct FakeConnection : std::enable_shared_from_this<FakeConnection> {
  FakeConnection(boost::asio::io_context& context, net::ConnectionSet<FakeConnection>& set)
      : strand(boost::asio::make_strand(context)), set(set) {}
  ~FakeConnection() { set.leave(this); }

  boost::asio::any_io_executor executor() { return strand; }
  void shut_down() {
    ++shut_downs;
    self_hold.reset();
  }

  boost::asio::strand<boost::asio::io_context::executor_type> strand;
  net::ConnectionSet<FakeConnection>& set;
  std::shared_ptr<FakeConnection> self_hold;  // what a pending read handler would hold
  static inline std::atomic<int> shut_downs{0};
};

}  // namespace

TEST_CASE("close_all shuts every open connection down and returns once all have left", "[connection_set]") {
  net::IoPool pool(1);
  pool.start();
  net::ConnectionSet<FakeConnection> set;
  FakeConnection::shut_downs = 0;
  std::vector<std::weak_ptr<FakeConnection>> watched;
  for (int i = 0; i < 3; ++i) {
    auto connection = std::make_shared<FakeConnection>(pool.context(), set);
    REQUIRE(set.join(connection));
    connection->self_hold = connection;  // only the "handler" keeps it now
    watched.push_back(connection);
  }
  CHECK_FALSE(set.closing());
  REQUIRE(set.begin_closing());
  CHECK_FALSE(set.begin_closing());  // only the first caller closes
  set.close_all(pool.context(), std::chrono::seconds(5));
  CHECK(FakeConnection::shut_downs == 3);
  for (const auto& weak : watched) CHECK(weak.expired());
  pool.stop();
}

TEST_CASE("a connection that starts after closing began is refused", "[connection_set]") {
  boost::asio::io_context context;
  net::ConnectionSet<FakeConnection> set;
  REQUIRE(set.begin_closing());
  CHECK(set.closing());
  auto late = std::make_shared<FakeConnection>(context, set);
  CHECK_FALSE(set.join(late));
}

TEST_CASE("close_all on a pool thread does not wait for the connections it shut down", "[connection_set]") {
  net::IoPool pool(1);
  pool.start();
  net::ConnectionSet<FakeConnection> set;
  auto stuck = std::make_shared<FakeConnection>(pool.context(), set);
  REQUIRE(set.join(stuck));  // held by this test: it can never leave while we wait
  std::promise<void> returned;
  REQUIRE(set.begin_closing());
  boost::asio::post(pool.context(), [&] {
    set.close_all(pool.context(), std::chrono::seconds(60));
    returned.set_value();
  });
  CHECK(returned.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  stuck.reset();
  pool.stop();
}
