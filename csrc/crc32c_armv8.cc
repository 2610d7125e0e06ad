// CRC32C with the ARMv8 CRC extension. This file alone is compiled with
// -march=armv8-a+crc; it is only called after a HWCAP check.
#if defined(__aarch64__)
#include <arm_acle.h>

#include "crc32c_interleave.h"

namespace tfbundle {
namespace crc32c {

namespace {
struct Armv8 {
  static uint32_t u8(uint32_t reg, uint8_t v) { return __crc32cb(reg, v); }
  static uint64_t u64(uint64_t reg, uint64_t v) { return __crc32cd(static_cast<uint32_t>(reg), v); }
};
}  // namespace

uint32_t extend_armv8(uint32_t crc, const uint8_t* p, size_t n) {
  return InterleavedCrc<Armv8>::extend(crc, p, n);
}

}  // namespace crc32c
}  // namespace tfbundle
#endif
