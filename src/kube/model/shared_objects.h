#pragma once

// Objects read from an informer's cache without copying them: the cache holds each object
// behind a shared pointer to const and replaces the pointer when the object changes, so a
// list is a snapshot that costs one pointer per object, however large the objects are
// (a reconcile pass over 30,000 pods used to deep-copy them all). Iterating, indexing and
// front()/back() give `const nlohmann::json&`, so readers use it like a vector of objects.
//
// Pods are the exception: an informer keeps each pod as its JSON text in a string value
// (parsed JSON costs about eight times its text, and pods are most of a cluster's objects:
// 30,000 of them took 156 MB parsed). expanded() gives the object; copies() expands.

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ballast::kube {

using ObjectRef = std::shared_ptr<const nlohmann::json>;

// `cached` as an object: a pod kept as text parsed (null when the text is not JSON), any
// other object as it is.
nlohmann::json expanded(const nlohmann::json& cached);

class SharedObjects {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = nlohmann::json;
    using difference_type = std::ptrdiff_t;
    using pointer = const nlohmann::json*;
    using reference = const nlohmann::json&;

    const_iterator() = default;
    explicit const_iterator(std::vector<ObjectRef>::const_iterator at) : at_(at) {}
    reference operator*() const { return **at_; }
    pointer operator->() const { return at_->get(); }
    reference operator[](difference_type n) const { return *at_[n]; }
    const_iterator& operator++() { ++at_; return *this; }
    const_iterator operator++(int) { return const_iterator(at_++); }
    const_iterator& operator--() { --at_; return *this; }
    const_iterator operator--(int) { return const_iterator(at_--); }
    const_iterator& operator+=(difference_type n) { at_ += n; return *this; }
    const_iterator& operator-=(difference_type n) { at_ -= n; return *this; }
    friend const_iterator operator+(const_iterator it, difference_type n) { return it += n; }
    friend const_iterator operator+(difference_type n, const_iterator it) { return it += n; }
    friend const_iterator operator-(const_iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) { return a.at_ - b.at_; }
    friend auto operator<=>(const const_iterator&, const const_iterator&) = default;

   private:
    std::vector<ObjectRef>::const_iterator at_;
  };

  SharedObjects() = default;
  explicit SharedObjects(std::vector<ObjectRef> refs) : refs_(std::move(refs)) {}
  // Objects made here (tests, `ballast plan`): each is moved behind its own pointer.
  SharedObjects(std::initializer_list<nlohmann::json> objects) {
    refs_.reserve(objects.size());
    for (const auto& object : objects) push_back(object);
  }
  explicit SharedObjects(std::vector<nlohmann::json> objects) {
    refs_.reserve(objects.size());
    for (auto& object : objects) push_back(std::move(object));
  }

  void push_back(nlohmann::json object) { refs_.push_back(std::make_shared<const nlohmann::json>(std::move(object))); }
  void push_back(ObjectRef ref) { refs_.push_back(std::move(ref)); }
  // Shares `other`'s objects (no copy of any object).
  void append(const SharedObjects& other) { refs_.insert(refs_.end(), other.refs_.begin(), other.refs_.end()); }
  void reserve(size_t n) { refs_.reserve(n); }

  size_t size() const { return refs_.size(); }
  bool empty() const { return refs_.empty(); }
  const nlohmann::json& operator[](size_t i) const { return *refs_[i]; }
  // The i-th object's pointer: the same pointer as long as the object is unchanged.
  const ObjectRef& ref(size_t i) const { return refs_[i]; }
  const nlohmann::json& front() const { return *refs_.front(); }
  const nlohmann::json& back() const { return *refs_.back(); }
  const_iterator begin() const { return const_iterator(refs_.begin()); }
  const_iterator end() const { return const_iterator(refs_.end()); }
  // Deep copies, expanded, for the guard's planners, whose inputs are workloads, PDBs and
  // a few selected pods, held as plain values their tests edit in place.
  std::vector<nlohmann::json> copies() const;

 private:
  std::vector<ObjectRef> refs_;
};

}  // namespace ballast::kube
