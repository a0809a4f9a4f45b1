#pragma once

// Included only by the .cc files of servers: it brings in Asio.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>

namespace ballast::net {

// The open connections of one server, so that its stop() can end them. A connection joins
// when it starts and leaves in its destructor; close_all() asks each one to shut_down() on
// its own executor and waits, bounded, until all have left. `Connection` provides
// `executor()` and `shut_down()`. Thread-safe (one mutex); owned by the server's shared
// state, which every connection holds, so it outlives them all.
template <typename Connection>
class ConnectionSet {
 public:
  // False once closing has begun: the caller closes its connection instead.
  [[nodiscard]] bool join(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(mutex_);
    // begin_closing() flips the flag under this lock, so no connection slips past close_all().
    if (closing_) return false;
    live_.emplace(connection.get(), connection);
    return true;
  }

  void leave(const Connection* connection) {
    std::lock_guard lock(mutex_);
    live_.erase(connection);
    if (live_.empty()) drained_.notify_all();
  }

  bool closing() const { return closing_.load(); }

  // True for the first caller only: it then stops what feeds new connections and calls
  // close_all(). From here on join() refuses.
  [[nodiscard]] bool begin_closing() {
    std::lock_guard lock(mutex_);
    return !closing_.exchange(true);
  }

  // Asks every open connection to shut down and, called off the context's threads while it
  // runs, waits up to `timeout` for them to leave (waiting on a pool thread would block the
  // very handlers that finish them).
  void close_all(boost::asio::io_context& context, std::chrono::milliseconds timeout) {
    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [raw, weak] : live_) {
        if (auto connection = weak.lock()) open.push_back(std::move(connection));
      }
    }
    for (auto& connection : open) {
      boost::asio::dispatch(connection->executor(), [connection] { connection->shut_down(); });
    }
    open.clear();  // our references would keep the set from draining
    if (context.stopped() || context.get_executor().running_in_this_thread()) return;
    std::unique_lock lock(mutex_);
    drained_.wait_for(lock, timeout, [this] { return live_.empty(); });
  }

 private:
  mutable std::mutex mutex_;  // guards live_
  std::condition_variable drained_;
  std::atomic<bool> closing_{false};
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> live_;
};

}  // namespace ballast::net
