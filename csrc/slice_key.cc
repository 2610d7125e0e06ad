#include "slice_key.h"

#include <cstdint>

#include "errors.h"

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
  const uint64_t magnitude = static_cast<uint64_t>(v < 0 ? -(v + 1) : v);  // ~v, without signed bit operations
  int bits = 0;
  for (uint64_t x = magnitude; x != 0; x >>= 1) bits++;
  const int length = bits / 7 + 1;
  uint8_t be[10];
  const uint64_t u = static_cast<uint64_t>(v);
  const uint8_t sign_fill = v < 0 ? 0xff : 0x00;
  be[0] = sign_fill;
  be[1] = sign_fill;
  for (unsigned i = 0; i < 8; i++) be[9 - i] = static_cast<uint8_t>(u >> (8 * i));
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

[[noreturn]] void malformed(const char* problem) {
  throw DataLoss(std::string("malformed slice key: ") + problem);
}

uint64_t get_increasing_unsigned(std::string_view* in) {
  if (in->empty()) malformed("truncated number");
  const size_t n = static_cast<uint8_t>((*in)[0]);
  if (n > 8 || in->size() < n + 1) malformed("bad number length");
  if (n > 0 && (*in)[1] == '\0') malformed("non-canonical number (leading zero byte)");
  uint64_t v = 0;
  for (size_t i = 1; i <= n; i++) v = (v << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(n + 1);
  return v;
}

int64_t get_increasing_signed(std::string_view* in) {
  if (in->empty()) malformed("truncated signed number");
  const bool negative = (static_cast<uint8_t>((*in)[0]) & 0x80) == 0;
  auto byte = [&](size_t i) -> uint8_t {
    const uint8_t b = static_cast<uint8_t>((*in)[i]);
    return negative ? static_cast<uint8_t>(~b) : b;
  };
  // The length is the count of leading one bits (of the complement when negative).
  int length = 0;
  for (size_t i = 0; i < 2 && i < in->size(); i++) {
    uint8_t b = byte(i);
    int ones = 0;
    while (ones < 8 && (b & 0x80)) {
      ones++;
      b = static_cast<uint8_t>(b << 1);
    }
    length += ones;
    if (ones < 8) break;
  }
  if (length < 1 || length > 10 || in->size() < static_cast<size_t>(length)) malformed("bad signed number length");
  // Strip the marks, then read the remaining bits big-endian.
  static const uint8_t kLengthMarks[10] = {0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff, 0xff, 0xff};
  uint8_t bytes[10];
  for (int i = 0; i < length; i++) bytes[i] = byte(static_cast<size_t>(i));
  bytes[0] ^= kLengthMarks[length - 1];
  if (length == 9) bytes[1] ^= 0x80;
  if (length == 10) bytes[1] ^= 0xc0;
  uint64_t magnitude = 0;
  for (int i = 0; i < length; i++) {
    if (magnitude >> 56) malformed("signed number overflows 64 bits");
    magnitude = (magnitude << 8) | bytes[i];
  }
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) malformed("signed number overflows 64 bits");
  const int64_t x = static_cast<int64_t>(magnitude);
  const int64_t value = negative ? -x - 1 : x;  // ~x; x >= 0, so no overflow
  // Only the canonical encoding is accepted.
  std::string again;
  put_increasing_signed(&again, value);
  if (again != in->substr(0, static_cast<size_t>(length))) malformed("non-canonical signed number");
  in->remove_prefix(static_cast<size_t>(length));
  return value;
}

}  // namespace

void decode_slice_key(std::string_view key, std::string* name, SliceExtents* slice) {
  std::string_view in = key;
  if (get_increasing_unsigned(&in) != 0) malformed("does not start with 00");
  name->clear();
  for (;;) {
    if (in.size() < 2) malformed("unterminated name");
    const char c = in[0];
    if (c == '\0' || c == '\xff') {
      const char next = in[1];
      if (c == '\0' && next == '\x01') {
        in.remove_prefix(2);
        break;
      }
      if ((c == '\0' && next != '\xff') || (c == '\xff' && next != '\0')) malformed("bad escape in name");
      name->push_back(c);
      in.remove_prefix(2);
      continue;
    }
    name->push_back(c);
    in.remove_prefix(1);
  }
  const uint64_t rank = get_increasing_unsigned(&in);
  if (rank > 254 || rank * 2 > in.size()) malformed("bad rank");
  slice->clear();
  for (uint64_t d = 0; d < rank; d++) {
    const int64_t start = get_increasing_signed(&in);
    const int64_t length = get_increasing_signed(&in);
    if (length == -1 && start == 0) {
      slice->push_back(Extent{0, -1});
    } else if (start < 0 || length < 0) {
      malformed("negative extent");
    } else {
      slice->push_back(Extent{start, length});
    }
  }
  if (!in.empty()) malformed("trailing bytes");
}

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
