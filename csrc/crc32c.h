// CRC32C (Castagnoli) with a hardware implementation picked at run time, and
// TensorFlow's checksum masking. Values are ordinary finished CRCs, so
// extend(extend(0, a), b) == value(a ‖ b).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tfbundle {
namespace crc32c {

// Returns the CRC32C of data[0..n) continued from a previous result `crc`.
uint32_t extend(uint32_t crc, const void* data, size_t n);

inline uint32_t value(const void* data, size_t n) {
  return extend(0, data, n);
}

// The CRC of A ‖ B from crc(A), crc(B) and |B|, without touching the data:
// crc(A) is multiplied by x^(8·|B|) modulo the polynomial (O(log |B|)).
uint32_t combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

// x^n modulo the CRC polynomial, reflected (bit 31 is x^0).
uint32_t x_pow_mod(uint64_t n);

// Name of the implementation in use: "vpclmulqdq", "sse4.2", "armv8-crc" or
// "portable".
const char* implementation();

// TensorFlow stores masked CRCs so that a CRC of data containing CRCs stays
// well distributed: rotate right by 15 bits and add a constant.
constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

inline uint32_t unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace crc32c
}  // namespace tfbundle
