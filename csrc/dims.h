// A tensor shape: a small vector of int64 dims held inline up to kInline
// dims and on the heap beyond. Opening a checkpoint decodes one shape per
// entry; keeping the common ranks (0..6) out of the allocator removes one
// malloc/free pair per entry from every open.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tfbundle {

class Dims {
 public:
  static constexpr size_t kInline = 6;

  Dims() = default;
  // Implicit: the writer's and the bindings' shapes arrive as vectors.
  Dims(const std::vector<int64_t>& dims) { assign(dims.data(), dims.size()); }  // NOLINT
  Dims(const Dims& other) { assign(other.data(), other.size()); }
  Dims& operator=(const Dims& other) {
    if (this != &other) assign(other.data(), other.size());
    return *this;
  }
  Dims(Dims&& other) noexcept { *this = std::move(other); }
  Dims& operator=(Dims&& other) noexcept {
    if (this == &other) return *this;
    size_ = other.size_;
    capacity_ = other.capacity_;
    heap_ = std::move(other.heap_);
    if (!heap_) std::copy(other.inline_, other.inline_ + size_, inline_);
    other.size_ = 0;
    other.capacity_ = kInline;
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const int64_t* data() const { return heap_ ? heap_.get() : inline_; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  int64_t operator[](size_t i) const { return data()[i]; }

  void push_back(int64_t d) {
    if (size_ == capacity_) grow();
    (heap_ ? heap_.get() : inline_)[size_++] = d;
  }

  std::vector<int64_t> to_vector() const { return std::vector<int64_t>(begin(), end()); }

  friend bool operator==(const Dims& a, const Dims& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }

 private:
  void assign(const int64_t* dims, size_t n) {
    size_ = 0;
    if (n > capacity_) {
      heap_.reset(new int64_t[n]);
      capacity_ = static_cast<uint32_t>(n);
    }
    std::copy(dims, dims + n, heap_ ? heap_.get() : inline_);
    size_ = static_cast<uint32_t>(n);
  }
  void grow() {
    const uint32_t capacity = capacity_ * 2;
    std::unique_ptr<int64_t[]> bigger(new int64_t[capacity]);
    std::copy(begin(), end(), bigger.get());
    heap_ = std::move(bigger);
    capacity_ = capacity;
  }

  // Invariant: the dims live in heap_ when it is set, else in inline_;
  // size_ <= capacity_, and capacity_ == kInline while heap_ is null.
  uint32_t size_ = 0;  // decode_shape_proto caps shapes at 254 dims
  uint32_t capacity_ = kInline;
  int64_t inline_[kInline];  // only [0, size_) is ever read
  std::unique_ptr<int64_t[]> heap_;
};

}  // namespace tfbundle
