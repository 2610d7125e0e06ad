// A bounds-checked reader of FlatBuffers data (the encoding of .tflite
// models), written here rather than taken from the flatbuffers library: its
// C++ runtime trusts offsets unless a generated Verifier runs first, and the
// generated code for TFLite's schema would be a large vendored file. We need
// only tables, scalars, strings and vectors, each checked before use:
//
//   root:    uoffset (u32) at 0 -> the root table
//   table t: soffset (i32) at t; vtable at t - soffset: u16 vtable bytes,
//            u16 table bytes, then one u16 per field (0: absent), the
//            field's offset from t; field i is at vtable + 4 + 2 * i
//   offset:  a u32 at p referring to p + value (tables, vectors, strings)
//   vector:  u32 length, then the elements; a vector of tables holds offsets
//   string:  u32 length, then the bytes (and a NUL)
//
// Any violation throws DataLoss naming the file.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "errors.h"

namespace tfbundle {
namespace flatbuffer {

// The bytes being parsed: in memory, or read from a file through pread a
// page at a time (a .tflite file's description lies between its buffers'
// data, and touching it through a mapping would map a 2 MiB page-cache
// folio per buffer; pread copies only the 4 KiB pages read).
class Buffer {
 public:
  using Reader = std::function<void(uint64_t offset, size_t n, char* dst)>;

  Buffer(std::string_view bytes, std::string name) : bytes_(bytes), size_(bytes.size()), name_(std::move(name)) {}
  Buffer(uint64_t size, Reader reader, std::string name)
      : size_(size), reader_(std::move(reader)), name_(std::move(name)) {}

  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }

  [[noreturn]] void fail(const std::string& problem) const {
    throw DataLoss(name_ + ": damaged flatbuffer: " + problem);
  }

  // Checks that [pos, pos + n) lies in the buffer.
  void check(uint64_t pos, uint64_t n, const char* what) const {
    if (pos > size_ || n > size_ - pos) {
      fail(std::string(what) + " at byte " + std::to_string(pos) + " runs past the end (" + std::to_string(size_) +
           " bytes)");
    }
  }

  // Copies [pos, pos + n) into dst after checking it.
  void copy(uint64_t pos, uint64_t n, char* dst, const char* what) const {
    check(pos, n, what);
    if (!reader_) {
      std::memcpy(dst, bytes_.data() + pos, static_cast<size_t>(n));
      return;
    }
    while (n > 0) {
      const uint64_t page = pos / kPage;
      const uint64_t within = pos % kPage;
      const std::string& cached = this->page(page);
      const uint64_t k = std::min<uint64_t>(n, cached.size() - within);
      std::memcpy(dst, cached.data() + within, static_cast<size_t>(k));
      dst += k;
      pos += k;
      n -= k;
    }
  }

  template <typename T>
  T load(uint64_t pos, const char* what) const {
    T v;
    copy(pos, sizeof(T), reinterpret_cast<char*>(&v), what);
    return v;
  }

  // The position a u32 offset stored at `pos` refers to.
  uint64_t follow(uint64_t pos, const char* what) const {
    return pos + load<uint32_t>(pos, what);  // < 2^33: no overflow
  }

 private:
  static constexpr uint64_t kPage = 4096;

  const std::string& page(uint64_t index) const {
    auto found = pages_.find(index);
    if (found != pages_.end()) return found->second;
    std::string bytes(static_cast<size_t>(std::min(kPage, size_ - index * kPage)), '\0');
    reader_(index * kPage, bytes.size(), bytes.data());
    return pages_.emplace(index, std::move(bytes)).first->second;
  }

  std::string_view bytes_;
  uint64_t size_;
  Reader reader_;
  std::string name_;
  mutable std::unordered_map<uint64_t, std::string> pages_;
};

// A vector's elements: `count` of `width` bytes from `begin`, all in bounds.
struct Vector {
  uint64_t begin = 0;
  uint64_t count = 0;
  uint64_t width = 0;
  uint64_t at(uint64_t i) const { return begin + i * width; }
};

class Table {
 public:
  Table(const Buffer& buf, uint64_t pos) : buf_(&buf), pos_(pos) {
    const int64_t back = buf.load<int32_t>(pos, "table");
    const int64_t vtable = static_cast<int64_t>(pos) - back;
    if (vtable < 0) buf.fail("a table's vtable lies before the buffer");
    vtable_ = static_cast<uint64_t>(vtable);
    vtable_bytes_ = buf.load<uint16_t>(vtable_, "vtable");
    table_bytes_ = buf.load<uint16_t>(vtable_ + 2, "vtable");
    if (vtable_bytes_ < 4 || vtable_bytes_ % 2 != 0) buf.fail("a vtable has an invalid size");
    buf.check(vtable_, vtable_bytes_, "vtable");
    buf.check(pos_, table_bytes_, "table");
  }

  // The root table of a buffer.
  static Table root(const Buffer& buf) { return Table(buf, buf.follow(0, "root offset")); }

  bool has(int field) const { return field_offset(field, 0) != 0; }

  template <typename T>
  T scalar(int field, T fallback) const {
    const uint16_t at = field_offset(field, sizeof(T));
    return at == 0 ? fallback : buf_->load<T>(pos_ + at, "field");
  }

  // A sub-table; `present` tells whether the field is there.
  Table table(int field, bool* present) const {
    const uint16_t at = field_offset(field, 4);
    *present = at != 0;
    return at == 0 ? *this : Table(*buf_, buf_->follow(pos_ + at, "table offset"));
  }

  // A string field; empty when absent.
  std::string string(int field) const {
    const uint16_t at = field_offset(field, 4);
    if (at == 0) return {};
    return string_at(*buf_, buf_->follow(pos_ + at, "string offset"));
  }

  // A vector field of `width`-byte elements; empty when absent.
  Vector vector(int field, uint64_t width) const {
    const uint16_t at = field_offset(field, 4);
    if (at == 0) return {0, 0, width};
    return vector_at(*buf_, buf_->follow(pos_ + at, "vector offset"), width);
  }

  // Element i of a vector of tables.
  Table element(const Vector& v, uint64_t i) const { return Table(*buf_, buf_->follow(v.at(i), "table offset")); }
  std::string string_element(const Vector& v, uint64_t i) const {
    return string_at(*buf_, buf_->follow(v.at(i), "string offset"));
  }

  template <typename T>
  T scalar_element(const Vector& v, uint64_t i) const {
    return buf_->load<T>(v.at(i), "vector element");
  }

  static Vector vector_at(const Buffer& buf, uint64_t pos, uint64_t width) {
    const uint64_t count = buf.load<uint32_t>(pos, "vector length");
    buf.check(pos + 4, count * width, "vector");  // count * width < 2^32 * 8
    return {pos + 4, count, width};
  }

  static std::string string_at(const Buffer& buf, uint64_t pos) {
    const uint64_t n = buf.load<uint32_t>(pos, "string length");
    buf.check(pos + 4, n, "string");
    std::string out(static_cast<size_t>(n), '\0');
    buf.copy(pos + 4, n, out.data(), "string");
    return out;
  }

 private:
  // The field's offset in the table (0 when absent), checked to hold
  // `width` bytes inside the table.
  uint16_t field_offset(int field, uint64_t width) const {
    const uint64_t slot = 4 + 2 * static_cast<uint64_t>(field);
    if (slot + 2 > vtable_bytes_) return 0;
    const uint16_t at = buf_->load<uint16_t>(vtable_ + slot, "vtable");
    if (at != 0 && at + width > table_bytes_) buf_->fail("a field lies outside its table");
    return at;
  }

  const Buffer* buf_;
  uint64_t pos_;
  uint64_t vtable_ = 0;
  uint16_t vtable_bytes_ = 0;
  uint16_t table_bytes_ = 0;
};

}  // namespace flatbuffer
}  // namespace tfbundle
