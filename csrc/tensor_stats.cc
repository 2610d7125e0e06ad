#include "tensor_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "dtypes.h"

namespace tfbundle {

namespace {

float half_to_float(uint16_t h) {
  const uint32_t bits = h;  // widened first: uint16_t operands promote to int
  const uint32_t sign = (bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Element i of a chunk as a double; T is the stored type.
template <typename T>
struct Plain {
  static double at(const char* p, size_t i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    return static_cast<double>(v);
  }
  static constexpr size_t kWidth = sizeof(T);
};

template <float (*Convert)(uint16_t)>
struct Half16 {
  static double at(const char* p, size_t i) {
    uint16_t v;
    std::memcpy(&v, p + i * 2, 2);
    return static_cast<double>(Convert(v));
  }
  static constexpr size_t kWidth = 2;
};

struct Bool {
  static double at(const char* p, size_t i) { return p[i] != 0 ? 1.0 : 0.0; }
  static constexpr size_t kWidth = 1;
};

// Sums run over blocks of kBlock elements whose partial sums are then
// added up: the rounding error grows with kBlock + n / kBlock rather than
// with n, close to numpy's pairwise summation.
constexpr size_t kBlock = 256;

template <typename Elem>
void accumulate_as(TensorStats* s, const char* p, size_t n) {
  const size_t count = n / Elem::kWidth;
  TensorStats c;  // this chunk
  double sum = 0;
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t end = std::min(count, begin + kBlock);
    double block_sum = 0, block_squares = 0;
    for (size_t i = begin; i < end; i++) {
      const double x = Elem::at(p, i);
      if (std::isnan(x)) {
        c.nan++;
      } else if (std::isinf(x)) {
        c.inf++;
      } else {
        c.count++;
        block_sum += x;
        block_squares += x * x;
        c.min = std::min(c.min, x);
        c.max = std::max(c.max, x);
      }
    }
    sum += block_sum;
    c.sumsq += block_squares;
  }
  if (c.count > 0) {
    c.mean = sum / static_cast<double>(c.count);
    for (size_t begin = 0; begin < count; begin += kBlock) {
      const size_t end = std::min(count, begin + kBlock);
      double block_m2 = 0;
      for (size_t i = begin; i < end; i++) {
        const double x = Elem::at(p, i);
        if (std::isfinite(x)) block_m2 += (x - c.mean) * (x - c.mean);
      }
      c.m2 += block_m2;
    }
  }
  s->nan += c.nan;
  s->inf += c.inf;
  if (c.count == 0) return;
  const auto na = static_cast<double>(s->count);
  const auto nb = static_cast<double>(c.count);
  const double delta = c.mean - s->mean;
  s->mean += delta * nb / (na + nb);
  s->m2 += c.m2 + delta * delta * na * nb / (na + nb);
  s->count += c.count;
  s->sumsq += c.sumsq;
  s->min = std::min(s->min, c.min);
  s->max = std::max(s->max, c.max);
}

}  // namespace

bool stats_supported(int32_t dtype) {
  switch (dtype) {
    case kFloat:
    case kDouble:
    case kHalf:
    case kBfloat16:
    case kInt8:
    case kInt16:
    case kInt32:
    case kInt64:
    case kUint8:
    case kUint16:
    case kUint32:
    case kUint64:
    case kBool:
      return true;
    default:
      return false;
  }
}

void accumulate(TensorStats* s, const void* data, size_t n, int32_t dtype) {
  const auto* p = static_cast<const char*>(data);
  switch (dtype) {
    case kFloat:
      return accumulate_as<Plain<float>>(s, p, n);
    case kDouble:
      return accumulate_as<Plain<double>>(s, p, n);
    case kHalf:
      return accumulate_as<Half16<half_to_float>>(s, p, n);
    case kBfloat16:
      return accumulate_as<Half16<bfloat16_to_float>>(s, p, n);
    case kInt8:
      return accumulate_as<Plain<int8_t>>(s, p, n);
    case kInt16:
      return accumulate_as<Plain<int16_t>>(s, p, n);
    case kInt32:
      return accumulate_as<Plain<int32_t>>(s, p, n);
    case kInt64:
      return accumulate_as<Plain<int64_t>>(s, p, n);
    case kUint8:
      return accumulate_as<Plain<uint8_t>>(s, p, n);
    case kUint16:
      return accumulate_as<Plain<uint16_t>>(s, p, n);
    case kUint32:
      return accumulate_as<Plain<uint32_t>>(s, p, n);
    case kUint64:
      return accumulate_as<Plain<uint64_t>>(s, p, n);
    case kBool:
      return accumulate_as<Bool>(s, p, n);
    default:
      return;
  }
}

}  // namespace tfbundle
