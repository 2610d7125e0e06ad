// The parts of a .tflite model (TFLite's FlatBuffers schema, "TFL3") that
// describe its tensors and where their constant data lies: subgraphs,
// tensors with quantization, operators, buffers, signatures and metadata.
// Parsing copies only this small description; buffer data stays in the
// file (a data vector inside the flatbuffer, or an offset/size pair past
// it in models over 2 GiB) and is checked to lie inside the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tfbundle {

struct TfliteQuantization {
  std::vector<float> scale, min, max;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
  uint8_t details_type = 0;  // a custom quantization scheme when non-zero
};

struct TfliteTensor {
  std::string name;
  int8_t type = 0;  // TFLite's TensorType
  std::vector<int32_t> shape, shape_signature;
  bool has_shape_signature = false;
  uint32_t buffer = 0;
  bool is_variable = false;
  bool sparse = false;
  bool has_quantization = false;
  TfliteQuantization quantization;
};

struct TfliteOperator {
  uint32_t opcode_index = 0;
  std::vector<int32_t> inputs, outputs;
};

struct TfliteSubgraph {
  std::string name;
  std::vector<TfliteTensor> tensors;
  std::vector<int32_t> inputs, outputs;
  std::vector<TfliteOperator> operators;
};

struct TfliteOperatorCode {
  int32_t builtin_code = 0;  // the larger of the deprecated int8 code and the int32 one
  std::string custom_code;
  int32_t version = 1;
};

// Where a buffer's bytes lie in the file: [offset, offset + size).
struct TfliteBuffer {
  uint64_t offset = 0;
  uint64_t size = 0;
  bool external = false;  // stored past the flatbuffer (Buffer.offset/size)
};

struct TfliteSignature {
  std::string key;
  uint32_t subgraph = 0;
  std::vector<std::pair<std::string, uint32_t>> inputs, outputs;  // (name, tensor index)
};

struct TfliteModel {
  uint32_t version = 0;
  std::string description;
  std::vector<TfliteOperatorCode> operator_codes;
  std::vector<TfliteSubgraph> subgraphs;
  std::vector<TfliteBuffer> buffers;
  std::vector<std::pair<std::string, uint32_t>> metadata;  // (name, buffer index)
  std::vector<TfliteSignature> signatures;
};

namespace flatbuffer {
class Buffer;
}

// Parses a .tflite file's bytes (`buf` names the file in errors). Throws
// DataLoss when it is not a TFLite model or any offset, length, index or
// buffer range is out of bounds.
TfliteModel parse_tflite(const flatbuffer::Buffer& buf);
// The same for a file held in memory.
TfliteModel parse_tflite(std::string_view file, const std::string& path);

}  // namespace tfbundle
