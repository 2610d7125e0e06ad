// Decoding TensorProto (core/framework/tensor.proto): dtype=1,
// tensor_shape=2, tensor_content=4 (raw little-endian elements), and the
// typed repeated fields float_val=5, double_val=6, int_val=7, string_val=8,
// scomplex_val=9, int64_val=10, bool_val=11, dcomplex_val=12, half_val=13,
// uint32_val=16, uint64_val=17, float8_val=18 (bytes, one per element).
// Repeated numeric fields may be packed or not; both are accepted.
//
// Two users: graph constants (dtype and shape inside the message, values
// broadcast by TensorFlow's rule) and V1 checkpoint slices (dtype and element
// count known from elsewhere, every value stored, decoded straight into the
// caller's buffer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tfbundle {

// A decoded TensorProto: either a view of its tensor_content (raw
// little-endian elements) or element bytes decoded from the typed value
// fields with TensorFlow's broadcast rule, or strings.
struct TensorValue {
  int32_t dtype = 0;
  std::vector<int64_t> shape;  // empty + unknown_rank == false: a scalar
  bool from_content = false;
  std::string_view content;               // from_content: points into the input
  std::string decoded;                    // fixed-size values built from typed fields
  std::vector<std::string_view> strings;  // DT_STRING elements (into the input)
  int64_t num_elements() const;
};

// Decodes a serialized TensorProto with its own dtype and shape; k typed
// values for n elements: k >= n uses the first n, 0 < k < n repeats the last,
// none gives zeros. Throws DataLoss on malformed input or a dtype it cannot
// represent (variant, resource).
TensorValue decode_tensor_proto(std::string_view bytes);

// Decodes the values of a TensorProto holding exactly n elements of the
// fixed-size `dtype` (the message's own dtype and shape fields are ignored)
// into dst, which holds n × element_size(dtype) bytes. Throws DataLoss
// unless tensor_content has exactly that many bytes or the typed field
// exactly n values.
void decode_tensor_values(std::string_view bytes, int32_t dtype, int64_t n, char* dst);

// The n strings of a DT_STRING TensorProto (views into `bytes`): string_val
// entries, or tensor_content's varint lengths followed by the bytes. Throws
// DataLoss unless there are exactly n.
std::vector<std::string_view> decode_tensor_strings(std::string_view bytes, int64_t n);

}  // namespace tfbundle
