// Little-endian fixed-width integers and protobuf varints.
// Every decoder takes a remaining-bytes view and fails (returns false) rather
// than read past its end; callers turn a false into a DataLoss with context.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tfbundle's core assumes a little-endian host"
#endif

namespace tfbundle {

// The first 4 (8) bytes of `p`, which must hold at least that many.
inline uint32_t load_fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t load_fixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The same from the front of a view, which the caller has checked is long enough.
inline uint32_t load_fixed32(std::string_view s) {
  uint32_t v;
  std::memcpy(&v, s.data(), 4);
  return v;
}

inline uint64_t load_fixed64(std::string_view s) {
  uint64_t v;
  std::memcpy(&v, s.data(), 8);
  return v;
}

inline void put_fixed32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}

inline void put_fixed64(std::string* out, uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}

// Appends v as a varint (1..10 bytes).
inline void put_varint64(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Number of bytes put_varint64 would write for v.
inline int varint_length(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

// The multi-byte case of get_varint64.
inline bool get_varint64_long(std::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  const size_t limit = in->size() < 10 ? in->size() : 10;
  for (size_t i = 0; i < limit; i++) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      in->remove_prefix(i + 1);
      *value = result;
      return true;
    }
  }
  return false;
}

// Consumes a varint from the front of *in. False if it is truncated or longer
// than 10 bytes; *in is then unspecified.
inline bool get_varint64(std::string_view* in, uint64_t* value) {
  // Tags, lengths and small dims fit one byte: the common case first.
  if (!in->empty() && static_cast<uint8_t>(in->front()) < 0x80) {
    *value = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    return true;
  }
  return get_varint64_long(in, value);
}

// A varint that must fit in 32 bits (LevelDB block fields).
inline bool get_varint32(std::string_view* in, uint32_t* value) {
  uint64_t v;
  if (!get_varint64(in, &v) || v > 0xffffffffu) return false;
  *value = static_cast<uint32_t>(v);
  return true;
}

inline bool get_fixed32(std::string_view* in, uint32_t* value) {
  if (in->size() < 4) return false;
  *value = load_fixed32(*in);
  in->remove_prefix(4);
  return true;
}

}  // namespace tfbundle
