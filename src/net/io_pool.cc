#include "net/io_pool.h"

#include <optional>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "core/thread_name.h"

namespace ballast::net {

struct IoPool::State {
  explicit State(size_t threads) : context(static_cast<int>(threads)) {}
  boost::asio::io_context context;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
};

IoPool::IoPool(size_t thread_count) : state_(std::make_unique<State>(thread_count)), thread_count_(thread_count) {}

IoPool::~IoPool() { stop(); }

boost::asio::io_context& IoPool::context() { return state_->context; }

void IoPool::start() {
  state_->work.emplace(state_->context.get_executor());
  for (size_t i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this, i] {
      name_this_thread("io-" + std::to_string(i));
      state_->context.run();
    });
  }
}

void IoPool::stop() {
  state_->work.reset();
  state_->context.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace ballast::net
