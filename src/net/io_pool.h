#pragma once

#include <memory>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ballast::net {

// The process's one Asio event loop, run by a small pool of threads. Owned by the
// composition root; start() before servers accept, stop() after they have closed.
// Handlers running here must never block (no librdkafka calls, no file reads).
class IoPool {
 public:
  explicit IoPool(size_t thread_count);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  boost::asio::io_context& context();
  void start();
  void stop();  // stops the loop and joins its threads; idempotent

 private:
  struct State;
  std::unique_ptr<State> state_;
  size_t thread_count_;
  std::vector<std::thread> threads_;
};

}  // namespace ballast::net
