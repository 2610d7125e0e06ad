#include "snappy.h"

#include <cstring>

#include "coding.h"
#include "errors.h"

namespace tfbundle::snappy {

namespace {

[[noreturn]] void fail(const std::string& what, const char* problem) {
  throw DataLoss(what + "snappy data is corrupt: " + problem);
}

// Consumes the length header; `in` is left at the first element.
uint32_t read_header(std::string_view* in, const std::string& what) {
  uint32_t n;
  if (!get_varint32(in, &n)) fail(what, "bad uncompressed-length header");
  return n;
}

// Little-endian integer of `width` (1..4) bytes.
uint32_t load_le(const uint8_t* p, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; i++) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

size_t uncompressed_length(std::string_view compressed, const std::string& what) {
  std::string_view in = compressed;
  const uint64_t n = read_header(&in, what);
  if (n > static_cast<uint64_t>(in.size()) * kMaxExpansion) {
    fail(what, ("declares " + std::to_string(n) + " bytes, more than " + std::to_string(in.size()) +
                " compressed bytes can hold")
                   .c_str());
  }
  return static_cast<size_t>(n);
}

void decompress(std::string_view compressed, char* out, size_t n, const std::string& what) {
  std::string_view header = compressed;
  if (read_header(&header, what) != n) fail(what, "output size differs from the declared length");
  const auto* ip = reinterpret_cast<const uint8_t*>(header.data());
  const uint8_t* const end = ip + header.size();
  size_t produced = 0;  // invariant: produced <= n
  while (ip < end) {
    const uint32_t tag = *ip++;
    size_t length;
    size_t offset = 0;
    switch (tag & 3) {
      case 0: {
        length = (tag >> 2) + 1u;
        if (length > 60) {
          const size_t width = length - 60;  // 1..4 bytes of length-1
          if (static_cast<size_t>(end - ip) < width) fail(what, "truncated literal length");
          length = static_cast<size_t>(load_le(ip, width)) + 1;
          ip += width;
        }
        if (static_cast<size_t>(end - ip) < length) fail(what, "literal runs past the input");
        if (n - produced < length) fail(what, "literal runs past the declared length");
        std::memcpy(out + produced, ip, length);
        ip += length;
        produced += length;
        continue;
      }
      case 1:
        if (end - ip < 1) fail(what, "truncated copy");
        length = 4 + ((tag >> 2) & 7u);
        offset = (static_cast<size_t>(tag >> 5) << 8) | *ip++;
        break;
      case 2:
        if (end - ip < 2) fail(what, "truncated copy");
        length = 1 + (tag >> 2);
        offset = load_le(ip, 2);
        ip += 2;
        break;
      default:
        if (end - ip < 4) fail(what, "truncated copy");
        length = 1 + (tag >> 2);
        offset = load_le(ip, 4);
        ip += 4;
        break;
    }
    if (offset == 0 || offset > produced) fail(what, "copy offset points before the start of the output");
    if (n - produced < length) fail(what, "copy runs past the declared length");
    char* dst = out + produced;
    const char* src = dst - offset;
    if (offset >= length) {
      std::memcpy(dst, src, length);
    } else {
      for (size_t i = 0; i < length; i++) dst[i] = src[i];  // overlapping: a repeating pattern
    }
    produced += length;
  }
  if (produced != n) fail(what, "output is shorter than the declared length");
}

std::string decompress(std::string_view compressed, const std::string& what) {
  std::string out(uncompressed_length(compressed, what), '\0');
  decompress(compressed, out.data(), out.size(), what);
  return out;
}

}  // namespace tfbundle::snappy
