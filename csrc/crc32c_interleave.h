// The three-stream CRC32C kernel shared by the hardware implementations.
//
// A CRC instruction has a latency of about three cycles but a throughput of
// one per cycle, so one dependency chain leaves two thirds of the unit idle.
// The kernel checksums three adjacent stretches of a buffer as independent
// chains and joins them: for the CRC register r (not inverted),
//   reg(r, A ‖ B) = shift(reg(r, A), |B|) ^ reg(0, B),
// where shift(x, n) is the register after feeding n zero bytes from x. shift
// is linear over GF(2), so it is tabulated once per stretch length as four
// 256-entry tables built from the images of the 32 basis vectors.
//
// Everything here is in an anonymous namespace: each includer is compiled
// with its own instruction-set flags and must get its own copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tfbundle {
namespace crc32c {
namespace {

// Isa provides: static uint32_t u8(uint32_t reg, uint8_t v);
//               static uint64_t u64(uint64_t reg, uint64_t v);
template <typename Isa>
class InterleavedCrc {
 public:
  static uint32_t extend(uint32_t crc, const uint8_t* p, size_t n) {
    uint64_t reg = ~crc & 0xffffffffu;
    while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
      reg = Isa::u8(static_cast<uint32_t>(reg), *p++);
      n--;
    }
    if (n >= 3 * kShort) {
      const Tables& t = tables();
      for (; n >= 3 * kLong; p += 3 * kLong, n -= 3 * kLong) reg = three_way<kLong>(reg, p, t.lng);
      for (; n >= 3 * kShort; p += 3 * kShort, n -= 3 * kShort) reg = three_way<kShort>(reg, p, t.shrt);
    }
    for (; n >= 8; p += 8, n -= 8) reg = Isa::u64(reg, load64(p));
    for (; n > 0; n--) reg = Isa::u8(static_cast<uint32_t>(reg), *p++);
    return ~static_cast<uint32_t>(reg);
  }

 private:
  static constexpr size_t kLong = 8192;
  static constexpr size_t kShort = 256;

  struct ShiftTable {
    uint32_t t[4][256];
    uint32_t apply(uint32_t x) const {
      return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
    }
  };
  struct Tables {
    ShiftTable lng, shrt;
  };

  static uint64_t load64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }

  static void build(ShiftTable* table, size_t zeros) {
    uint32_t basis[32];
    for (unsigned bit = 0; bit < 32; bit++) {
      uint64_t reg = uint32_t{1} << bit;
      for (size_t i = 0; i < zeros / 8; i++) reg = Isa::u64(reg, 0);
      basis[bit] = static_cast<uint32_t>(reg);
    }
    for (unsigned byte = 0; byte < 4; byte++) {
      for (uint32_t v = 0; v < 256; v++) {
        uint32_t r = 0;
        for (unsigned bit = 0; bit < 8; bit++) {
          if (v & (1u << bit)) r ^= basis[8 * byte + bit];
        }
        table->t[byte][v] = r;
      }
    }
  }

  static const Tables& tables() {
    static const Tables t = [] {
      Tables built;
      build(&built.lng, kLong);
      build(&built.shrt, kShort);
      return built;
    }();
    return t;
  }

  template <size_t kLen>
  static uint64_t three_way(uint64_t reg0, const uint8_t* p, const ShiftTable& shift) {
    uint64_t reg1 = 0, reg2 = 0;
    for (size_t i = 0; i < kLen; i += 8) {
      reg0 = Isa::u64(reg0, load64(p + i));
      reg1 = Isa::u64(reg1, load64(p + kLen + i));
      reg2 = Isa::u64(reg2, load64(p + 2 * kLen + i));
    }
    const uint64_t joined = shift.apply(static_cast<uint32_t>(reg0)) ^ reg1;
    return shift.apply(static_cast<uint32_t>(joined)) ^ reg2;
  }
};

}  // namespace
}  // namespace crc32c
}  // namespace tfbundle
