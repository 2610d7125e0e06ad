// Run-time dispatch between the hardware CRC32C kernels and a portable
// slicing-by-8 fallback.
#include "crc32c.h"

#include <cstdlib>
#include <cstring>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

namespace tfbundle {
namespace crc32c {

#if defined(__x86_64__) || defined(__i386__)
uint32_t extend_sse42(uint32_t crc, const uint8_t* p, size_t n);
#endif
#if defined(__x86_64__)
uint32_t extend_vpclmul(uint32_t crc, const uint8_t* p, size_t n);
#endif

#if defined(__aarch64__)
uint32_t extend_armv8(uint32_t crc, const uint8_t* p, size_t n);
#endif

namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // reflected Castagnoli

// table[k][b]: the register contribution of byte b followed by k zero bytes.
struct SlicingTables {
  uint32_t table[8][256];
  SlicingTables() {
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t r = b;
      for (int i = 0; i < 8; i++) r = (r >> 1) ^ (kPolynomial & (0u - (r & 1)));
      table[0][b] = r;
    }
    for (uint32_t b = 0; b < 256; b++) {
      for (int k = 1; k < 8; k++) table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
    }
  }
};

uint32_t extend_portable(uint32_t crc, const uint8_t* p, size_t n) {
  static const SlicingTables tables;
  const auto& t = tables.table;
  uint32_t reg = ~crc;
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; n--) reg = (reg >> 8) ^ t[0][(reg ^ *p++) & 0xff];
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= reg;
    reg = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
          t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; n--) reg = (reg >> 8) ^ t[0][(reg ^ *p++) & 0xff];
  return ~reg;
}

using ExtendFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

struct Choice {
  ExtendFn fn;
  const char* name;
};

Choice choose() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("vpclmulqdq")) {
    return {extend_vpclmul, "vpclmulqdq"};
  }
#endif
  if (__builtin_cpu_supports("sse4.2")) return {extend_sse42, "sse4.2"};
#endif
#if defined(__aarch64__) && defined(__linux__)
  if (getauxval(AT_HWCAP) & HWCAP_CRC32) return {extend_armv8, "armv8-crc"};
#endif
  return {extend_portable, "portable"};
}

const Choice& chosen() {
  static const Choice choice = [] {
    // TFBUNDLE_CRC32C=portable forces the fallback and =sse4.2 the `crc32`
    // kernel on CPUs with a faster one, for testing them.
    const char* force = std::getenv("TFBUNDLE_CRC32C");
    if (force != nullptr && std::strcmp(force, "portable") == 0) return Choice{extend_portable, "portable"};
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    if (force != nullptr && std::strcmp(force, "sse4.2") == 0 && __builtin_cpu_supports("sse4.2")) {
      return Choice{extend_sse42, "sse4.2"};
    }
#endif

    return choose();
  }();
  return choice;
}

}  // namespace

uint32_t extend(uint32_t crc, const void* data, size_t n) {
  return chosen().fn(crc, static_cast<const uint8_t*>(data), n);
}

namespace {

// Product of two polynomials modulo the CRC polynomial, in the reflected bit
// order CRC registers use (bit 31 is x^0).
uint32_t multiply_mod_poly(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;  // b *= x
  }
  return product;
}

// x^(2^k) modulo the polynomial, for k = 0..63.
struct PowersOfX {
  uint32_t pow2[64];
  PowersOfX() {
    pow2[0] = 1u << 30;  // x^1
    for (int k = 1; k < 64; k++) pow2[k] = multiply_mod_poly(pow2[k - 1], pow2[k - 1]);
  }
};

}  // namespace

uint32_t x_pow_mod(uint64_t n) {
  static const PowersOfX powers;
  uint32_t result = 1u << 31;  // x^0
  for (int k = 0; n != 0 && k < 64; k++, n >>= 1) {
    if (n & 1) result = multiply_mod_poly(powers.pow2[k], result);
  }
  return result;
}

uint32_t combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return multiply_mod_poly(x_pow_mod(length_b * 8), crc_a) ^ crc_b;
}

const char* implementation() {
  return chosen().name;
}

}  // namespace crc32c
}  // namespace tfbundle
