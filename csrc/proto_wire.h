// A minimal protobuf wire-format cursor and encoder. The cursor walks the
// fields of a byte span without copying; every length is checked against
// the bytes that remain. Unknown fields are for the caller to skip.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding.h"

namespace tfbundle {
namespace wire {

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// The tag is kept whole: with separate 32-bit number and type members, GCC
// merged `number == N && type == T` into one 64-bit load of both, which
// stalled on store forwarding in every decoder loop.
struct Field {
  uint64_t tag = 0;  // (number << 3) | wire type
  uint32_t number() const { return static_cast<uint32_t>(tag >> 3); }
  WireType type() const { return static_cast<WireType>(tag & 7); }
  uint64_t value = 0;      // kVarint, kFixed64, kFixed32
  std::string_view bytes;  // kLengthDelimited: the payload, pointing into the input
};

// Iterates over the fields of one message. next() returns false at the end
// and throws DataLoss (with `what` naming the message) on malformed input.
class Cursor {
 public:
  Cursor(std::string_view message, const char* what) : rest_(message), what_(what) {}
  inline bool next(Field* field);  // defined below: it is the parsers' inner loop
  // The bytes not yet consumed.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
  const char* what_;
};

// Calls fn(value) for each element of a repeated integer field, accepting
// both the packed (one LEN field) and unpacked (one varint each) encodings.
template <typename Fn>
void for_each_varint(const Field& field, const char* what, Fn fn);

// Encoders (append to *out).
inline void put_tag(std::string* out, uint32_t number, WireType type) {
  put_varint64(out, (static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(type));
}
inline void put_varint_field(std::string* out, uint32_t number, uint64_t v) {
  put_tag(out, number, kVarint);
  put_varint64(out, v);
}
inline void put_bytes_field(std::string* out, uint32_t number, std::string_view bytes) {
  put_tag(out, number, kLengthDelimited);
  put_varint64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}
inline void put_fixed32_field(std::string* out, uint32_t number, uint32_t v) {
  put_tag(out, number, kFixed32);
  put_fixed32(out, v);
}

[[noreturn]] void throw_malformed(const char* what, const char* problem);

template <typename Fn>
void for_each_varint(const Field& field, const char* what, Fn fn) {
  if (field.type() == kVarint) {
    fn(field.value);
    return;
  }
  if (field.type() != kLengthDelimited) throw_malformed(what, "repeated integer field has a wrong wire type");
  std::string_view packed = field.bytes;
  while (!packed.empty()) {
    uint64_t v;
    if (!get_varint64(&packed, &v)) throw_malformed(what, "truncated packed varint");
    fn(v);
  }
}

bool Cursor::next(Field* field) {
  if (rest_.empty()) return false;
  uint64_t key;
  if (!get_varint64(&rest_, &key)) throw_malformed(what_, "truncated field key");
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) throw_malformed(what_, "invalid field number");
  field->tag = key;
  switch (field->type()) {
    case kVarint:
      if (!get_varint64(&rest_, &field->value)) throw_malformed(what_, "truncated varint");
      return true;
    case kFixed64:
      if (rest_.size() < 8) throw_malformed(what_, "truncated fixed64");
      field->value = load_fixed64(rest_);
      rest_.remove_prefix(8);
      return true;
    case kFixed32:
      if (rest_.size() < 4) throw_malformed(what_, "truncated fixed32");
      field->value = load_fixed32(rest_);
      rest_.remove_prefix(4);
      return true;
    case kLengthDelimited: {
      uint64_t length;
      if (!get_varint64(&rest_, &length)) throw_malformed(what_, "truncated length");
      if (length > rest_.size()) throw_malformed(what_, "length runs past the end of the message");
      field->bytes = rest_.substr(0, static_cast<size_t>(length));
      rest_.remove_prefix(static_cast<size_t>(length));
      return true;
    }
    default:
      throw_malformed(what_, "unsupported wire type (groups are not used by these messages)");
  }
}

}  // namespace wire
}  // namespace tfbundle
