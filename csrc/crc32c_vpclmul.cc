// CRC32C by carry-less multiplication on 512-bit vectors (VPCLMULQDQ with
// AVX-512), for x86 CPUs that have it. Its functions are compiled for those
// instruction sets by a target attribute (so no build needs special flags
// for this file); it is only called after a CPUID check.
//
// Why: on such CPUs the three-stream `crc32` kernel runs at about a third of
// the speed the kernel copies a page-cached file at, so checksumming was a
// fifth of a verified read's time. Folding 256 bytes per step with four
// independent multiplies per 64 bytes removes most of it.
//
// The arithmetic, in the reflected bit order CRC32C uses: a 16-byte block
// read little-endian into a 128-bit register holds the polynomial whose
// x^127 coefficient is bit 0 (the first byte's lowest bit), so its first 8
// bytes (the low qword) are the high-degree half. Moving a block D bits
// towards the end of the message multiplies it by x^D; modulo the CRC
// polynomial P that is
//   low·x^(D+64) + high·x^D  ≡  low·(x^(D+64) mod P) + high·(x^D mod P),
// a polynomial of degree below 96 that fits the block D bits later, where it
// is XORed in. A carry-less product of the low qword with a 33-bit constant
// c lands in the register as low·c·x^32, so the constants are
// x^(D+32) mod P and x^(D-32) mod P, each reflected into bits 1..32 (the
// reflected 32-bit residue shifted left by one). Once everything is folded
// into one final block F, the message's CRC register is that of F alone,
// which the `crc32` instruction gives from an all-zero register, since the
// incoming register was XORed into the message's first four bytes.
#if defined(__x86_64__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized (their
// _mm512_undefined_* placeholders), which says nothing about this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "crc32c.h"

namespace tfbundle {
namespace crc32c {

uint32_t extend_sse42(uint32_t crc, const uint8_t* p, size_t n);

// Every function here uses the vector instructions, so every one has this.
#define TFBUNDLE_VPCLMUL __attribute__((target("sse4.2,pclmul,avx512f,vpclmulqdq")))

namespace {

// Below this many bytes the three-stream kernel is as fast (the folding
// set-up and final reduction cost about as much as 256 bytes of `crc32`).
constexpr size_t kMinBytes = 512;

// The two constants that fold a 128-bit block `distance` bytes ahead: the
// low qword's multiplier in the low half, the high qword's in the high half.
TFBUNDLE_VPCLMUL __m128i fold_constants(uint64_t distance) {
  const uint64_t bits = 8 * distance;
  const uint64_t low = uint64_t{x_pow_mod(bits + 32)} << 1;
  const uint64_t high = uint64_t{x_pow_mod(bits - 32)} << 1;
  return _mm_set_epi64x(static_cast<long long>(high), static_cast<long long>(low));
}

struct Constants {
  __m512i by_256_bytes;  // each lane to the same lane of the vector 256 bytes on
  __m512i by_64_bytes;   // each lane to the same lane of the next vector
  __m128i by_48_bytes, by_32_bytes, by_16_bytes;
  TFBUNDLE_VPCLMUL Constants()
      : by_256_bytes(_mm512_broadcast_i32x4(fold_constants(256))),
        by_64_bytes(_mm512_broadcast_i32x4(fold_constants(64))),
        by_48_bytes(fold_constants(48)),
        by_32_bytes(fold_constants(32)),
        by_16_bytes(fold_constants(16)) {}
};

// x moved onto `target`'s position (per 128-bit lane) and XORed into it.
TFBUNDLE_VPCLMUL inline __m512i fold(__m512i x, __m512i k, __m512i target) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11), target,
                                   0x96);  // three-way XOR
}

TFBUNDLE_VPCLMUL inline __m128i fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

}  // namespace

TFBUNDLE_VPCLMUL uint32_t extend_vpclmul(uint32_t crc, const uint8_t* p, size_t n) {
  if (n < kMinBytes) return extend_sse42(crc, p, n);
  static const Constants k;
  const uint32_t reg = ~crc;  // the register, XORed into the first 4 bytes
  __m512i x0 =
      _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(reg))));
  __m512i x1 = _mm512_loadu_si512(p + 64);
  __m512i x2 = _mm512_loadu_si512(p + 128);
  __m512i x3 = _mm512_loadu_si512(p + 192);
  p += 256;
  n -= 256;
  for (; n >= 256; p += 256, n -= 256) {
    x0 = fold(x0, k.by_256_bytes, _mm512_loadu_si512(p));
    x1 = fold(x1, k.by_256_bytes, _mm512_loadu_si512(p + 64));
    x2 = fold(x2, k.by_256_bytes, _mm512_loadu_si512(p + 128));
    x3 = fold(x3, k.by_256_bytes, _mm512_loadu_si512(p + 192));
  }
  // Four vectors into the last, then its four lanes into its last.
  x3 = fold(fold(fold(x0, k.by_64_bytes, x1), k.by_64_bytes, x2), k.by_64_bytes, x3);
  __m128i last = _mm512_extracti32x4_epi32(x3, 3);
  last = _mm_xor_si128(last, fold(_mm512_extracti32x4_epi32(x3, 0), k.by_48_bytes));
  last = _mm_xor_si128(last, fold(_mm512_extracti32x4_epi32(x3, 1), k.by_32_bytes));
  last = _mm_xor_si128(last, fold(_mm512_extracti32x4_epi32(x3, 2), k.by_16_bytes));
  uint64_t folded = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(last)));
  folded = _mm_crc32_u64(folded, static_cast<uint64_t>(_mm_extract_epi64(last, 1)));
  // The rest (under 256 bytes) continues from that register.
  return extend_sse42(~static_cast<uint32_t>(folded), p, n);
}

}  // namespace crc32c
}  // namespace tfbundle
#endif
