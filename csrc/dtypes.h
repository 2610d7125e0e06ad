// TensorFlow DataType numbers (core/framework/types.proto) and the bytes one
// element takes in a bundle.
#pragma once

#include <cstdint>

namespace tfbundle {

// int32_t as in types.proto: a file may hold any int32 here, and it must
// survive the round trip to be reported.
enum DataType : int32_t {  // NOLINT(performance-enum-size)
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kComplex64 = 8,
  kInt64 = 9,
  kBool = 10,
  kQint8 = 11,
  kQuint8 = 12,
  kQint32 = 13,
  kBfloat16 = 14,
  kQint16 = 15,
  kQuint16 = 16,
  kUint16 = 17,
  kComplex128 = 18,
  kHalf = 19,
  kResource = 20,
  kVariant = 21,
  kUint32 = 22,
  kUint64 = 23,
  kFloat8E5m2 = 24,
  kFloat8E4m3fn = 25,
  kFloat8E4m3fnuz = 26,
  kFloat8E4m3b11fnuz = 27,
  kFloat8E5m2fnuz = 28,
  kInt4 = 29,
  kUint4 = 30,
  kInt2 = 31,
  kUint2 = 32,
  kFloat4E2m1fn = 33,
};

// Bytes per element for fixed-size types; 0 for string, variant, resource
// and unknown values. Sub-byte types take one byte per element in bundles.
inline int element_size(int32_t dtype) {
  switch (dtype) {
    case kBool:
    case kUint8:
    case kInt8:
    case kQint8:
    case kQuint8:
    case kFloat8E5m2:
    case kFloat8E4m3fn:
    case kFloat8E4m3fnuz:
    case kFloat8E4m3b11fnuz:
    case kFloat8E5m2fnuz:
    case kInt4:
    case kUint4:
    case kInt2:
    case kUint2:
    case kFloat4E2m1fn:
      return 1;
    case kInt16:
    case kUint16:
    case kQint16:
    case kQuint16:
    case kHalf:
    case kBfloat16:
      return 2;
    case kFloat:
    case kInt32:
    case kUint32:
    case kQint32:
      return 4;
    case kDouble:
    case kInt64:
    case kUint64:
    case kComplex64:
      return 8;
    case kComplex128:
      return 16;
    default:
      return 0;
  }
}

// The size of the unit a big-endian payload is byte-swapped in: the element,
// or each half of a complex element. 1 means nothing to swap.
inline int swap_unit(int32_t dtype) {
  if (dtype == kComplex64) return 4;
  if (dtype == kComplex128) return 8;
  return element_size(dtype);
}

}  // namespace tfbundle
