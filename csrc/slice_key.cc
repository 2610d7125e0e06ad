#include "slice_key.h"

#include <cstdint>

namespace tfbundle {

namespace {

// One length byte, then the significant bytes of v, most significant first.
void put_increasing_unsigned(std::string* out, uint64_t v) {
  char bytes[8];
  int n = 0;
  for (uint64_t x = v; x != 0; x >>= 8) bytes[n++] = static_cast<char>(x & 0xff);
  out->push_back(static_cast<char>(n));
  for (int i = n - 1; i >= 0; i--) out->push_back(bytes[i]);
}

// The last L bytes of the 10-byte big-endian two's complement of v, where L
// grows with the magnitude, with the leading bits marking L.
void put_increasing_signed(std::string* out, int64_t v) {
  static const uint8_t kLengthMarks[10] = {0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff, 0xff, 0xff};
  const uint64_t magnitude = static_cast<uint64_t>(v < 0 ? ~v : v);
  int bits = 0;
  for (uint64_t x = magnitude; x != 0; x >>= 1) bits++;
  const int length = bits / 7 + 1;
  uint8_t be[10];
  const uint64_t u = static_cast<uint64_t>(v);
  const uint8_t sign_fill = v < 0 ? 0xff : 0x00;
  be[0] = sign_fill;
  be[1] = sign_fill;
  for (int i = 0; i < 8; i++) be[9 - i] = static_cast<uint8_t>(u >> (8 * i));
  uint8_t* first = be + 10 - length;
  first[0] ^= kLengthMarks[length - 1];
  if (length == 9) first[1] ^= 0x80;
  if (length == 10) first[1] ^= 0xc0;
  out->append(reinterpret_cast<const char*>(first), length);
}

// Escapes 00 as 00 FF and FF as FF 00, then terminates with 00 01.
void put_escaped_string(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
    if (c == '\xff') out->push_back('\0');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

}  // namespace

std::string encode_slice_key(std::string_view name, const SliceExtents& slice) {
  std::string key;
  put_increasing_unsigned(&key, 0);
  put_escaped_string(&key, name);
  put_increasing_unsigned(&key, slice.size());
  for (const Extent& e : slice) {
    put_increasing_signed(&key, e.full() ? 0 : e.start);
    put_increasing_signed(&key, e.full() ? -1 : e.length);
  }
  return key;
}

}  // namespace tfbundle
