#include "tflite_model.h"

#include <algorithm>

#include "errors.h"
#include "flatbuffer.h"

namespace tfbundle {

namespace {

using flatbuffer::Table;
using flatbuffer::Vector;

// Field numbers of TFLite's schema (schema.fbs), per table.
namespace model_field {
constexpr int kVersion = 0, kOperatorCodes = 1, kSubgraphs = 2, kDescription = 3, kBuffers = 4, kMetadata = 6,
              kSignatureDefs = 7;
}
namespace subgraph_field {
constexpr int kTensors = 0, kInputs = 1, kOutputs = 2, kOperators = 3, kName = 4;
}
namespace tensor_field {
constexpr int kShape = 0, kType = 1, kBuffer = 2, kName = 3, kQuantization = 4, kIsVariable = 5, kSparsity = 6,
              kShapeSignature = 7, kExternalBuffer = 10;
}
namespace quantization_field {
constexpr int kMin = 0, kMax = 1, kScale = 2, kZeroPoint = 3, kDetailsType = 4, kQuantizedDimension = 6;
}
namespace buffer_field {
constexpr int kData = 0, kOffset = 1, kSize = 2;
}
namespace opcode_field {
constexpr int kDeprecatedBuiltinCode = 0, kCustomCode = 1, kVersion = 2, kBuiltinCode = 3;
}
namespace operator_field {
constexpr int kOpcodeIndex = 0, kInputs = 1, kOutputs = 2;
}
namespace pair_field {  // Metadata {name, buffer} and TensorMap {name, tensor_index}
constexpr int kName = 0, kIndex = 1;
}
namespace signature_field {
constexpr int kInputs = 0, kOutputs = 1, kKey = 2, kSubgraphIndex = 4;
}

template <typename T>
std::vector<T> scalars(const Table& t, int field) {
  const Vector v = t.vector(field, sizeof(T));
  std::vector<T> out;
  out.reserve(static_cast<size_t>(v.count));
  for (uint64_t i = 0; i < v.count; i++) out.push_back(t.scalar_element<T>(v, i));
  return out;
}

TfliteQuantization parse_quantization(const Table& q) {
  TfliteQuantization out;
  out.min = scalars<float>(q, quantization_field::kMin);
  out.max = scalars<float>(q, quantization_field::kMax);
  out.scale = scalars<float>(q, quantization_field::kScale);
  out.zero_point = scalars<int64_t>(q, quantization_field::kZeroPoint);
  out.details_type = q.scalar<uint8_t>(quantization_field::kDetailsType, 0);
  out.quantized_dimension = q.scalar<int32_t>(quantization_field::kQuantizedDimension, 0);
  return out;
}

TfliteTensor parse_tensor(const Table& t) {
  TfliteTensor out;
  out.name = t.string(tensor_field::kName);
  out.type = t.scalar<int8_t>(tensor_field::kType, 0);
  out.shape = scalars<int32_t>(t, tensor_field::kShape);
  out.has_shape_signature = t.has(tensor_field::kShapeSignature);
  out.shape_signature = scalars<int32_t>(t, tensor_field::kShapeSignature);
  out.buffer = t.scalar<uint32_t>(tensor_field::kBuffer, 0);
  out.is_variable = t.scalar<uint8_t>(tensor_field::kIsVariable, 0) != 0;
  out.sparse = t.has(tensor_field::kSparsity);
  bool present = false;
  const Table q = t.table(tensor_field::kQuantization, &present);
  if (present) {
    out.has_quantization = true;
    out.quantization = parse_quantization(q);
  }
  return out;
}

std::vector<std::pair<std::string, uint32_t>> named_indices(const Table& parent, int field) {
  const Vector v = parent.vector(field, 4);
  std::vector<std::pair<std::string, uint32_t>> out;
  for (uint64_t i = 0; i < v.count; i++) {
    const Table entry = parent.element(v, i);
    out.emplace_back(entry.string(pair_field::kName), entry.scalar<uint32_t>(pair_field::kIndex, 0));
  }
  return out;
}

// Checks every index the model holds against what it indexes.
void check_indices(const TfliteModel& m, const flatbuffer::Buffer& buf) {
  auto bad = [&](const std::string& what) { buf.fail(what); };
  for (size_t s = 0; s < m.subgraphs.size(); s++) {
    const TfliteSubgraph& g = m.subgraphs[s];
    const auto n = static_cast<int64_t>(g.tensors.size());
    const std::string where = "subgraph " + std::to_string(s) + ": ";
    for (const TfliteTensor& t : g.tensors) {
      if (t.buffer >= m.buffers.size() && !(t.buffer == 0 && m.buffers.empty())) {
        bad(where + "tensor '" + t.name + "' names buffer " + std::to_string(t.buffer) + " of " +
            std::to_string(m.buffers.size()));
      }
      const auto& q = t.quantization;
      if (q.scale.size() > 1 &&
          (q.quantized_dimension < 0 || static_cast<size_t>(q.quantized_dimension) >= t.shape.size() ||
           t.shape[static_cast<size_t>(q.quantized_dimension)] != static_cast<int32_t>(q.scale.size()))) {
        bad(where + "tensor '" + t.name + "' has " + std::to_string(q.scale.size()) +
            " scales that do not match its quantized dimension");
      }
      if (!q.zero_point.empty() && q.zero_point.size() != q.scale.size()) {
        bad(where + "tensor '" + t.name + "' has different numbers of scales and zero points");
      }
    }
    auto check_list = [&](const std::vector<int32_t>& list, const std::string& what, bool optional) {
      for (int32_t i : list) {
        if (i >= n || i < (optional ? -1 : 0)) bad(where + what + " names tensor " + std::to_string(i));
      }
    };
    check_list(g.inputs, "an input", false);
    check_list(g.outputs, "an output", false);
    for (const TfliteOperator& op : g.operators) {
      if (op.opcode_index >= m.operator_codes.size()) bad(where + "an operator names an unknown opcode");
      check_list(op.inputs, "an operator input", true);
      check_list(op.outputs, "an operator output", true);
    }
  }
  for (const auto& [name, index] : m.metadata) {
    if (index >= m.buffers.size()) bad("metadata '" + name + "' names buffer " + std::to_string(index));
  }
  for (const TfliteSignature& sig : m.signatures) {
    if (sig.subgraph >= m.subgraphs.size()) bad("signature '" + sig.key + "' names an unknown subgraph");
    const size_t n = m.subgraphs[sig.subgraph].tensors.size();
    for (const auto* list : {&sig.inputs, &sig.outputs}) {
      for (const auto& [name, index] : *list) {
        if (index >= n) bad("signature '" + sig.key + "': '" + name + "' names tensor " + std::to_string(index));
      }
    }
  }
}

}  // namespace

TfliteModel parse_tflite(std::string_view file, const std::string& path) {
  return parse_tflite(flatbuffer::Buffer(file, path));
}

TfliteModel parse_tflite(const flatbuffer::Buffer& buf) {
  char identifier[4] = {};
  if (buf.size() >= 8) buf.copy(4, 4, identifier, "identifier");
  if (buf.size() < 8 || std::string_view(identifier, 4) != "TFL3") {
    throw DataLoss(buf.name() + ": not a TFLite model (no \"TFL3\" file identifier)");
  }
  const Table root = Table::root(buf);
  TfliteModel m;
  m.version = root.scalar<uint32_t>(model_field::kVersion, 0);
  m.description = root.string(model_field::kDescription);

  const Vector codes = root.vector(model_field::kOperatorCodes, 4);
  for (uint64_t i = 0; i < codes.count; i++) {
    const Table c = root.element(codes, i);
    TfliteOperatorCode code;
    code.builtin_code = std::max<int32_t>(c.scalar<int8_t>(opcode_field::kDeprecatedBuiltinCode, 0),
                                          c.scalar<int32_t>(opcode_field::kBuiltinCode, 0));
    code.custom_code = c.string(opcode_field::kCustomCode);
    code.version = c.scalar<int32_t>(opcode_field::kVersion, 1);
    m.operator_codes.push_back(std::move(code));
  }

  const Vector buffers = root.vector(model_field::kBuffers, 4);
  for (uint64_t i = 0; i < buffers.count; i++) {
    const Table b = root.element(buffers, i);
    TfliteBuffer out;
    const Vector data = b.vector(buffer_field::kData, 1);
    const uint64_t offset = b.scalar<uint64_t>(buffer_field::kOffset, 0);
    if (data.count > 0) {
      out.offset = data.begin;
      out.size = data.count;
    } else if (offset > 1) {  // 0 and 1 mean "no data here"
      out.offset = offset;
      out.size = b.scalar<uint64_t>(buffer_field::kSize, 0);
      out.external = true;
      buf.check(out.offset, out.size, ("buffer " + std::to_string(i)).c_str());
    }
    m.buffers.push_back(out);
  }

  const Vector subgraphs = root.vector(model_field::kSubgraphs, 4);
  for (uint64_t s = 0; s < subgraphs.count; s++) {
    const Table g = root.element(subgraphs, s);
    TfliteSubgraph out;
    out.name = g.string(subgraph_field::kName);
    const Vector tensors = g.vector(subgraph_field::kTensors, 4);
    out.tensors.reserve(static_cast<size_t>(tensors.count));
    for (uint64_t i = 0; i < tensors.count; i++) {
      const Table t = g.element(tensors, i);
      if (t.has(tensor_field::kExternalBuffer)) {
        buf.fail("tensor " + std::to_string(i) + " keeps its data in an external file, which is not supported");
      }
      out.tensors.push_back(parse_tensor(t));
    }
    out.inputs = scalars<int32_t>(g, subgraph_field::kInputs);
    out.outputs = scalars<int32_t>(g, subgraph_field::kOutputs);
    const Vector ops = g.vector(subgraph_field::kOperators, 4);
    for (uint64_t i = 0; i < ops.count; i++) {
      const Table o = g.element(ops, i);
      TfliteOperator op;
      op.opcode_index = o.scalar<uint32_t>(operator_field::kOpcodeIndex, 0);
      op.inputs = scalars<int32_t>(o, operator_field::kInputs);
      op.outputs = scalars<int32_t>(o, operator_field::kOutputs);
      out.operators.push_back(std::move(op));
    }
    m.subgraphs.push_back(std::move(out));
  }

  m.metadata = named_indices(root, model_field::kMetadata);
  const Vector signatures = root.vector(model_field::kSignatureDefs, 4);
  for (uint64_t i = 0; i < signatures.count; i++) {
    const Table d = root.element(signatures, i);
    TfliteSignature sig;
    sig.key = d.string(signature_field::kKey);
    sig.subgraph = d.scalar<uint32_t>(signature_field::kSubgraphIndex, 0);
    sig.inputs = named_indices(d, signature_field::kInputs);
    sig.outputs = named_indices(d, signature_field::kOutputs);
    m.signatures.push_back(std::move(sig));
  }
  check_indices(m, buf);
  return m;
}

}  // namespace tfbundle
