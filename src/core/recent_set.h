#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>

namespace ballast {

// A set of string keys that remembers at most `capacity` of them, forgetting the one
// least recently seen first (LRU). For "report once" bookkeeping whose keys come from
// cluster state (a pod, a message) and so have no bound of their own: a forgotten key
// that comes back is reported once more, which is harmless where a repeat only costs one
// more Event. Not thread-safe: owned and used by one thread (a reconciler's pass).
class RecentSet {
 public:
  explicit RecentSet(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // True the first time `key` is seen (or the first time since it was forgotten); either
  // way `key` becomes the most recently seen.
  bool insert(const std::string& key) {
    if (const auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return false;
    }
    order_.push_front(key);
    index_.emplace(key, order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
    return true;
  }

  bool contains(const std::string& key) const { return index_.count(key) > 0; }
  // Forgets `key`; false when it was not there.
  bool erase(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }
  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::list<std::string> order_;  // most recently seen first
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

}  // namespace ballast
