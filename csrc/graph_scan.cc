#include "graph_scan.h"

#include <cstring>

#include "bundle_entry.h"
#include "dtypes.h"
#include "errors.h"
#include "proto_wire.h"

namespace tfbundle {

namespace {

// Element values gathered from one typed field, as raw element bytes.
struct TypedValues {
  std::string bytes;  // count × width
  int64_t count = 0;
};

void append_le(std::string* out, uint64_t v, int width) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  out->append(buf, static_cast<size_t>(width));
}

// Appends each varint of a (packed or unpacked) field, truncated to width.
void gather_varints(const wire::Field& f, int width, TypedValues* out) {
  wire::for_each_varint(f, "TensorProto", [&](uint64_t v) {
    append_le(&out->bytes, v, width);
    out->count++;
  });
}

// Appends fixed-width values (fixed32 floats, fixed64 doubles).
void gather_fixed(const wire::Field& f, int width, TypedValues* out) {
  if (f.type() == wire::kLengthDelimited) {
    if (f.bytes.size() % static_cast<size_t>(width) != 0) {
      throw DataLoss("malformed TensorProto: packed values are not a whole number of elements");
    }
    out->bytes.append(f.bytes.data(), f.bytes.size());
    out->count += static_cast<int64_t>(f.bytes.size()) / width;
  } else if ((width == 4 && f.type() == wire::kFixed32) || (width == 8 && f.type() == wire::kFixed64)) {
    append_le(&out->bytes, f.value, width);
    out->count++;
  } else {
    throw DataLoss("malformed TensorProto: value field has the wrong wire type");
  }
}

// Which TensorProto field holds a dtype's values, and how wide one
// "value unit" is (complex types count re and im separately).
struct ValueSource {
  uint32_t field;
  bool fixed;       // fixed32/fixed64 encoding rather than varint
  int unit_width;   // bytes per stored value
  int units;        // stored values per element
};

bool value_source(int32_t dtype, ValueSource* s) {
  switch (dtype) {
    case kFloat: *s = {5, true, 4, 1}; return true;
    case kDouble: *s = {6, true, 8, 1}; return true;
    case kInt32: case kQint32: *s = {7, false, 4, 1}; return true;
    case kInt16: case kUint16: case kQint16: case kQuint16: *s = {7, false, 2, 1}; return true;
    case kInt8: case kUint8: case kQint8: case kQuint8: case kInt4: case kUint4: case kInt2: case kUint2:
      *s = {7, false, 1, 1}; return true;
    case kInt64: *s = {10, false, 8, 1}; return true;
    case kBool: *s = {11, false, 1, 1}; return true;
    case kHalf: case kBfloat16: *s = {13, false, 2, 1}; return true;
    case kComplex64: *s = {9, true, 4, 2}; return true;
    case kComplex128: *s = {12, true, 8, 2}; return true;
    case kUint32: *s = {16, false, 4, 1}; return true;
    case kUint64: *s = {17, false, 8, 1}; return true;
    default: return false;
  }
}

bool is_float8_like(int32_t dtype) {
  return dtype == kFloat8E5m2 || dtype == kFloat8E4m3fn || dtype == kFloat8E4m3fnuz ||
         dtype == kFloat8E4m3b11fnuz || dtype == kFloat8E5m2fnuz || dtype == kFloat4E2m1fn;
}

// TensorFlow's rule: k >= n values -> the first n; 0 < k < n -> the last
// value repeated; none -> zeros. `element` is the byte width of an element.
std::string broadcast(const std::string& values, int64_t k, int64_t n, size_t element) {
  std::string out;
  if (n == 0) return out;
  out.reserve(static_cast<size_t>(n) * element);
  if (k == 0) {
    out.assign(static_cast<size_t>(n) * element, '\0');
  } else if (k >= n) {
    out.assign(values.data(), static_cast<size_t>(n) * element);
  } else {
    out.assign(values.data(), static_cast<size_t>(k) * element);
    const char* last = values.data() + static_cast<size_t>(k - 1) * element;
    for (int64_t i = k; i < n; i++) out.append(last, element);
  }
  return out;
}

}  // namespace

int64_t TensorValue::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

TensorValue decode_tensor_proto(std::string_view bytes) {
  TensorValue t;
  bool unknown_rank = false;
  std::string_view content;
  bool has_content = false;
  std::vector<std::string_view> string_vals;
  std::string_view float8;
  // First pass: dtype, shape, tensor_content and strings.
  {
    wire::Cursor cursor(bytes, "TensorProto");
    wire::Field f;
    while (cursor.next(&f)) {
      if (f.number() == 1 && f.type() == wire::kVarint) t.dtype = static_cast<int32_t>(f.value);
      if (f.number() == 2 && f.type() == wire::kLengthDelimited) t.shape = decode_shape_proto(f.bytes, &unknown_rank).to_vector();
      if (f.number() == 4 && f.type() == wire::kLengthDelimited) {
        content = f.bytes;
        has_content = !f.bytes.empty();
      }
      if (f.number() == 8 && f.type() == wire::kLengthDelimited) string_vals.push_back(f.bytes);
      if (f.number() == 18 && f.type() == wire::kLengthDelimited) float8 = f.bytes;
    }
  }
  if (unknown_rank) throw DataLoss("TensorProto has an unknown rank");
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0) throw DataLoss("TensorProto has a negative dimension");
    if (d != 0 && n > INT64_MAX / d) throw DataLoss("TensorProto shape has too many elements");
    n *= d;
  }
  if (t.dtype == kString) {
    if (has_content) {  // all varint32 lengths, then the bytes
      std::string_view rest = content;
      std::vector<uint64_t> lengths;
      if (static_cast<uint64_t>(n) > rest.size()) throw DataLoss("string tensor_content is too short");
      lengths.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; i++) {
        uint64_t len;
        if (!get_varint64(&rest, &len) || len > rest.size()) throw DataLoss("malformed string tensor_content");
        lengths.push_back(len);
      }
      for (uint64_t len : lengths) {
        if (len > rest.size()) throw DataLoss("string tensor_content runs past its end");
        t.strings.push_back(rest.substr(0, static_cast<size_t>(len)));
        rest.remove_prefix(static_cast<size_t>(len));
      }
      return t;
    }
    if (static_cast<uint64_t>(string_vals.size()) > static_cast<uint64_t>(n) || n <= 0) {
      string_vals.resize(static_cast<size_t>(n > 0 ? n : 0));
    }
    // Broadcast: the last value fills the rest (empty strings when none).
    const int64_t k = static_cast<int64_t>(string_vals.size());
    // n is bounded by the caller's memory only through this vector; cap it
    // by the message size when values must be repeated.
    if (k < n && n > static_cast<int64_t>(bytes.size()) * 64 + 1024) {
      throw DataLoss("string TensorProto broadcasts to implausibly many elements");
    }
    t.strings = string_vals;
    std::string_view fill = k > 0 ? string_vals.back() : std::string_view();
    for (int64_t i = k; i < n; i++) t.strings.push_back(fill);
    return t;
  }
  const int width = element_size(t.dtype);
  if (width == 0) throw DataLoss("TensorProto dtype " + std::to_string(t.dtype) + " is not supported here");
  if (has_content) {
    if (static_cast<uint64_t>(n) * static_cast<uint64_t>(width) != content.size()) {
      throw DataLoss("tensor_content has " + std::to_string(content.size()) + " bytes for " + std::to_string(n) +
                     " elements of " + std::to_string(width));
    }
    t.from_content = true;
    t.content = content;
    return t;
  }
  // Typed values are broadcast; refuse shapes no message could sensibly
  // describe before allocating for them.
  if (static_cast<uint64_t>(n) * static_cast<uint64_t>(width) > (uint64_t{1} << 34)) {
    throw DataLoss("TensorProto broadcasts a value to more than 16 GiB");
  }
  if (is_float8_like(t.dtype)) {
    std::string values(float8.data(), float8.size());
    t.decoded = broadcast(values, static_cast<int64_t>(values.size()), n, 1);
    return t;
  }
  ValueSource source;
  if (!value_source(t.dtype, &source)) throw DataLoss("TensorProto dtype " + std::to_string(t.dtype) + " is not supported");
  TypedValues values, int_fallback;
  wire::Cursor cursor(bytes, "TensorProto");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == source.field) {
      if (source.fixed) {
        gather_fixed(f, source.unit_width, &values);
      } else {
        gather_varints(f, source.unit_width, &values);
      }
    } else if (t.dtype == kBfloat16 && f.number() == 7) {
      gather_varints(f, 2, &int_fallback);  // very old producers
    }
  }
  if (values.count == 0 && int_fallback.count > 0) values = std::move(int_fallback);
  const int64_t elements = values.count / source.units;
  t.decoded = broadcast(values.bytes, elements, n, static_cast<size_t>(width));
  return t;
}

GraphScanner::GraphScanner(const std::string& path, std::vector<uint32_t> path_to_graph)
    : path_(path), file_(MappedFile::open(path)) {
  std::string_view bytes;
  if (file_->mapped()) {
    bytes = file_->bytes();
  } else {
    auto copy = std::make_shared<std::string>(static_cast<size_t>(file_->size()), '\0');
    file_->read(0, copy->size(), copy->data());
    copy_ = copy;
    bytes = *copy_;
  }
  locate_graph(bytes, path_to_graph);
}

GraphScanner GraphScanner::from_bytes(std::string bytes, std::vector<uint32_t> path_to_graph) {
  GraphScanner scanner;
  scanner.path_ = "<memory>";
  scanner.copy_ = std::make_shared<const std::string>(std::move(bytes));
  scanner.locate_graph(*scanner.copy_, path_to_graph);
  return scanner;
}

void GraphScanner::locate_graph(std::string_view bytes, const std::vector<uint32_t>& path_to_graph) {
  try {
    for (uint32_t number : path_to_graph) {  // descend to the GraphDef
      wire::Cursor cursor(bytes, "message");
      wire::Field f;
      bool found = false;
      while (cursor.next(&f)) {
        if (f.number() == number && f.type() == wire::kLengthDelimited) {
          bytes = f.bytes;
          found = true;
          break;
        }
      }
      if (!found) throw DataLoss("no GraphDef at the expected field");
    }
  } catch (const DataLoss& e) {
    throw DataLoss(path_ + ": " + e.what());
  }
  graph_ = bytes;
  rest_ = bytes;
}

namespace {

void parse_node(std::string_view bytes, GraphNode* node) {
  *node = GraphNode();
  wire::Cursor cursor(bytes, "NodeDef");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.type() != wire::kLengthDelimited) continue;
    switch (f.number()) {
      case 1: node->name = f.bytes; break;
      case 2: node->op = f.bytes; break;
      case 3: node->inputs.push_back(f.bytes); break;
      case 4: node->device = f.bytes; break;
      case 5: {
        std::string_view key, value;
        wire::Cursor entry(f.bytes, "NodeDef.AttrEntry");
        wire::Field e;
        while (entry.next(&e)) {
          if (e.number() == 1 && e.type() == wire::kLengthDelimited) key = e.bytes;
          if (e.number() == 2 && e.type() == wire::kLengthDelimited) value = e.bytes;
        }
        if (key == "value" || key == "dtype") {
          wire::Cursor attr(value, "AttrValue");
          wire::Field a;
          while (attr.next(&a)) {
            if (key == "value" && a.number() == 8 && a.type() == wire::kLengthDelimited) node->value_tensor = a.bytes;
            if (key == "dtype" && a.number() == 6 && a.type() == wire::kVarint) node->dtype_attr = static_cast<int32_t>(a.value);
          }
        }
        break;
      }
      default: break;
    }
  }
}

}  // namespace

bool GraphScanner::next(GraphNode* node) {
  wire::Field f;
  try {
    for (;;) {
      if (!function_rest_.empty()) {  // inside a FunctionDef: node_def = 3
        wire::Cursor cursor(function_rest_, "FunctionDef");
        while (cursor.next(&f)) {
          if (f.number() == 3 && f.type() == wire::kLengthDelimited) {
            function_rest_ = cursor.rest();
            parse_node(f.bytes, node);
            node->function = function_name_;
            return true;
          }
        }
        function_rest_ = std::string_view();
      }
      if (!functions_.empty()) {  // start the next library function
        const std::string_view function = functions_.back();
        functions_.pop_back();
        function_name_ = std::string_view();
        wire::Cursor cursor(function, "FunctionDef");
        while (cursor.next(&f)) {
          if (f.number() == 1 && f.type() == wire::kLengthDelimited) {  // signature: OpDef, name = 1
            wire::Cursor signature(f.bytes, "OpDef");
            wire::Field s;
            while (signature.next(&s)) {
              if (s.number() == 1 && s.type() == wire::kLengthDelimited) function_name_ = s.bytes;
            }
          }
        }
        function_rest_ = function;
        continue;
      }
      wire::Cursor cursor(rest_, "GraphDef");
      if (!cursor.next(&f)) return false;
      rest_ = cursor.rest();
      if (f.number() == 1 && f.type() == wire::kLengthDelimited) {
        parse_node(f.bytes, node);
        return true;
      }
      if (f.number() == 2 && f.type() == wire::kLengthDelimited) {  // FunctionDefLibrary: function = 1
        wire::Cursor library(f.bytes, "FunctionDefLibrary");
        std::vector<std::string_view> found;
        while (library.next(&f)) {
          if (f.number() == 1 && f.type() == wire::kLengthDelimited) found.push_back(f.bytes);
        }
        functions_.insert(functions_.end(), found.rbegin(), found.rend());  // popped from the back, in order
      }
    }
  } catch (const DataLoss& e) {
    throw DataLoss(path_ + ": " + e.what());
  }
}

}  // namespace tfbundle
