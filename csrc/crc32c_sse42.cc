// CRC32C with the x86 SSE4.2 `crc32` instruction. This file alone is
// compiled with -msse4.2; it is only called after a CPUID check.
#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>

#include "crc32c_interleave.h"

namespace tfbundle {
namespace crc32c {

namespace {
struct Sse42 {
  static uint32_t u8(uint32_t reg, uint8_t v) { return _mm_crc32_u8(reg, v); }
#if defined(__x86_64__)
  static uint64_t u64(uint64_t reg, uint64_t v) { return _mm_crc32_u64(reg, v); }
#else
  static uint64_t u64(uint64_t reg, uint64_t v) {
    uint32_t r = _mm_crc32_u32(static_cast<uint32_t>(reg), static_cast<uint32_t>(v));
    return _mm_crc32_u32(r, static_cast<uint32_t>(v >> 32));
  }
#endif
};
}  // namespace

uint32_t extend_sse42(uint32_t crc, const uint8_t* p, size_t n) {
  return InterleavedCrc<Sse42>::extend(crc, p, n);
}

}  // namespace crc32c
}  // namespace tfbundle
#endif
