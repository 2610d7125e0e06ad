#include "tensor_proto.h"

#include <cstring>

#include "bundle_entry.h"
#include "coding.h"
#include "dtypes.h"
#include "errors.h"
#include "proto_wire.h"

namespace tfbundle {

namespace {

constexpr const char* kWhat = "TensorProto";

// Which TensorProto field holds a dtype's values, and how wide one
// "value unit" is (complex types count re and im separately).
struct ValueSource {
  uint32_t field;
  bool fixed;      // fixed32/fixed64 encoding rather than varint
  int unit_width;  // bytes per stored value
  int units;       // stored values per element
};

bool value_source(int32_t dtype, ValueSource* s) {
  switch (dtype) {
    case kFloat:
      *s = {5, true, 4, 1};
      return true;
    case kDouble:
      *s = {6, true, 8, 1};
      return true;
    case kInt32:
    case kQint32:
      *s = {7, false, 4, 1};
      return true;
    case kInt16:
    case kUint16:
    case kQint16:
    case kQuint16:
      *s = {7, false, 2, 1};
      return true;
    case kInt8:
    case kUint8:
    case kQint8:
    case kQuint8:
    case kInt4:
    case kUint4:
    case kInt2:
    case kUint2:
      *s = {7, false, 1, 1};
      return true;
    case kInt64:
      *s = {10, false, 8, 1};
      return true;
    case kBool:
      *s = {11, false, 1, 1};
      return true;
    case kHalf:
    case kBfloat16:
      *s = {13, false, 2, 1};
      return true;
    case kComplex64:
      *s = {9, true, 4, 2};
      return true;
    case kComplex128:
      *s = {12, true, 8, 2};
      return true;
    case kUint32:
      *s = {16, false, 4, 1};
      return true;
    case kUint64:
      *s = {17, false, 8, 1};
      return true;
    case kFloat8E5m2:
    case kFloat8E4m3fn:
    case kFloat8E4m3fnuz:
    case kFloat8E4m3b11fnuz:
    case kFloat8E5m2fnuz:
    case kFloat4E2m1fn:
      *s = {18, false, 1, 1};
      return true;  // one bytes field, a byte per element
    default:
      return false;
  }
}

// Value units written into a fixed buffer; more than it holds is an error.
class BufferSink {
 public:
  BufferSink(char* dst, size_t capacity) : dst_(dst), capacity_(capacity) {}
  void bytes(const char* p, size_t n) {
    if (n > capacity_ - used_) throw DataLoss("TensorProto holds more values than the tensor has elements");
    std::memcpy(dst_ + used_, p, n);
    used_ += n;
  }
  void value(uint64_t v, int width) { bytes(reinterpret_cast<const char*>(&v), static_cast<size_t>(width)); }
  size_t used() const { return used_; }

 private:
  char* dst_;
  size_t capacity_;
  size_t used_ = 0;
};

// Value units appended to a string (for broadcasting afterwards).
class StringSink {
 public:
  void bytes(const char* p, size_t n) { out.append(p, n); }
  void value(uint64_t v, int width) { bytes(reinterpret_cast<const char*>(&v), static_cast<size_t>(width)); }
  size_t used() const { return out.size(); }
  std::string out;
};

// Appends the values of one occurrence of the source field to the sink.
// Varints are truncated to the unit width (bool to 0/1), as protobuf's
// narrowing to the field's C++ type and TensorFlow's cast do.
template <typename Sink>
void gather(const wire::Field& f, const ValueSource& s, bool is_bool, Sink* sink) {
  if (s.field == 18) {  // float8_val: bytes
    if (f.type() != wire::kLengthDelimited) throw DataLoss("malformed TensorProto: float8_val is not bytes");
    sink->bytes(f.bytes.data(), f.bytes.size());
  } else if (!s.fixed) {
    wire::for_each_varint(f, kWhat, [&](uint64_t v) { sink->value(is_bool ? (v != 0) : v, s.unit_width); });
  } else if (f.type() == wire::kLengthDelimited) {
    if (f.bytes.size() % static_cast<size_t>(s.unit_width) != 0) {
      throw DataLoss("malformed TensorProto: packed values are not a whole number of elements");
    }
    sink->bytes(f.bytes.data(), f.bytes.size());
  } else if ((s.unit_width == 4 && f.type() == wire::kFixed32) || (s.unit_width == 8 && f.type() == wire::kFixed64)) {
    sink->value(f.value, s.unit_width);
  } else {
    throw DataLoss("malformed TensorProto: value field has the wrong wire type");
  }
}

// The most bytes a TensorProto may expand to by broadcasting (a declared
// shape filled from a few values): TensorFlow sets no limit, but a handful
// of bytes must not make a reader allocate without bound. Fuzzing builds
// (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, set by fuzz/run.sh) use a
// smaller one, below libFuzzer's 2 GiB memory limit.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr uint64_t kMaxBroadcastBytes = uint64_t{256} << 20;
#else
constexpr uint64_t kMaxBroadcastBytes = uint64_t{1} << 34;  // 16 GiB
#endif

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

// The strings of tensor_content: n varint lengths, then the bytes.
std::vector<std::string_view> content_strings(std::string_view content, int64_t n) {
  std::string_view rest = content;
  if (static_cast<uint64_t>(n) > rest.size()) throw DataLoss("string tensor_content is too short");
  std::vector<uint64_t> lengths;
  lengths.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    uint64_t len;
    if (!get_varint64(&rest, &len) || len > rest.size()) throw DataLoss("malformed string tensor_content");
    lengths.push_back(len);
  }
  std::vector<std::string_view> out;
  out.reserve(static_cast<size_t>(n));
  for (uint64_t len : lengths) {
    if (len > rest.size()) throw DataLoss("string tensor_content runs past its end");
    out.push_back(rest.substr(0, static_cast<size_t>(len)));
    rest.remove_prefix(static_cast<size_t>(len));
  }
  return out;
}

// tensor_content (4), or empty.
std::string_view find_content(std::string_view bytes) {
  wire::Cursor cursor(bytes, kWhat);
  wire::Field f;
  std::string_view content;
  while (cursor.next(&f)) {
    if (f.number() == 4 && f.type() == wire::kLengthDelimited) content = f.bytes;
  }
  return content;
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
  std::vector<std::string_view> string_vals;
  // First pass: dtype, shape, tensor_content and strings.
  {
    wire::Cursor cursor(bytes, kWhat);
    wire::Field f;
    while (cursor.next(&f)) {
      if (f.number() == 1 && f.type() == wire::kVarint) t.dtype = static_cast<int32_t>(f.value);
      if (f.number() == 2 && f.type() == wire::kLengthDelimited)
        t.shape = decode_shape_proto(f.bytes, &unknown_rank).to_vector();
      if (f.number() == 4 && f.type() == wire::kLengthDelimited) content = f.bytes;
      if (f.number() == 8 && f.type() == wire::kLengthDelimited) string_vals.push_back(f.bytes);
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
    if (!content.empty()) {
      t.strings = content_strings(content, n);
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
  ValueSource source;
  if (width == 0 || !value_source(t.dtype, &source)) {
    throw DataLoss("TensorProto dtype " + std::to_string(t.dtype) + " is not supported here");
  }
  if (!content.empty()) {
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
  if (static_cast<uint64_t>(n) * static_cast<uint64_t>(width) > kMaxBroadcastBytes) {
    throw DataLoss("TensorProto broadcasts a value to more than " + std::to_string(kMaxBroadcastBytes >> 20) + " MiB");
  }
  StringSink values, int_fallback;
  const bool is_bool = t.dtype == kBool;
  wire::Cursor cursor(bytes, kWhat);
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == source.field) {
      gather(f, source, is_bool, &values);
    } else if (t.dtype == kBfloat16 && f.number() == 7) {
      gather(f, ValueSource{7, false, 2, 1}, false, &int_fallback);  // very old producers
    }
  }
  if (values.used() == 0 && int_fallback.used() > 0) values = std::move(int_fallback);
  const int64_t elements = static_cast<int64_t>(values.used() / static_cast<size_t>(width));
  t.decoded = broadcast(values.out, elements, n, static_cast<size_t>(width));
  return t;
}

void decode_tensor_values(std::string_view bytes, int32_t dtype, int64_t n, char* dst) {
  const int width = element_size(dtype);
  ValueSource source;
  if (width == 0 || !value_source(dtype, &source)) {
    throw DataLoss("dtype " + std::to_string(dtype) + " cannot be stored in a TensorProto's value fields");
  }
  const size_t expected = static_cast<size_t>(n) * static_cast<size_t>(width);
  const std::string_view content = find_content(bytes);
  if (!content.empty()) {
    if (content.size() != expected) {
      throw DataLoss("tensor_content has " + std::to_string(content.size()) + " bytes for " + std::to_string(n) +
                     " elements of " + std::to_string(width));
    }
    std::memcpy(dst, content.data(), expected);
    return;
  }
  BufferSink sink(dst, expected);
  const bool is_bool = dtype == kBool;
  wire::Cursor cursor(bytes, kWhat);
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == source.field) gather(f, source, is_bool, &sink);
  }
  if (sink.used() != expected) {
    throw DataLoss("TensorProto holds " + std::to_string(sink.used() / static_cast<size_t>(width)) + " values for " +
                   std::to_string(n) + " elements");
  }
}

std::vector<std::string_view> decode_tensor_strings(std::string_view bytes, int64_t n) {
  std::vector<std::string_view> out;
  std::string_view content;
  wire::Cursor cursor(bytes, kWhat);
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == 4 && f.type() == wire::kLengthDelimited) content = f.bytes;
    if (f.number() == 8 && f.type() == wire::kLengthDelimited) {
      if (static_cast<int64_t>(out.size()) >= n) throw DataLoss("TensorProto holds more strings than elements");
      out.push_back(f.bytes);
    }
  }
  if (!content.empty()) return content_strings(content, n);
  if (static_cast<int64_t>(out.size()) != n) {
    throw DataLoss("TensorProto holds " + std::to_string(out.size()) + " strings for " + std::to_string(n) +
                   " elements");
  }
  return out;
}

}  // namespace tfbundle
