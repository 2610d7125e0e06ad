#include "v1_reader.h"

#include <algorithm>

#include "dtypes.h"
#include "errors.h"
#include "proto_wire.h"
#include "slice_key.h"
#include "tensor_proto.h"

namespace tfbundle {

namespace {

std::string quoted(std::string_view name) {
  return "'" + std::string(name) + "'";
}

// One SavedSliceMeta: a tensor's name, dtype, full shape and stored slices.
struct SliceMeta {
  std::string_view name;
  int32_t dtype = 0;
  Dims shape;
  std::vector<SliceExtents> slices;
};

SliceMeta decode_slice_meta(std::string_view bytes) {
  SliceMeta m;
  bool has_shape = false;
  wire::Cursor cursor(bytes, "SavedSliceMeta");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == 1 && f.type() == wire::kLengthDelimited) m.name = f.bytes;
    if (f.number() == 2 && f.type() == wire::kLengthDelimited) {
      m.shape = Dims();
      decode_saved_shape(f.bytes, &m.shape);
      has_shape = true;
    }
    if (f.number() == 3 && f.type() == wire::kVarint) m.dtype = static_cast<int32_t>(f.value);
    if (f.number() == 4 && f.type() == wire::kLengthDelimited) m.slices.push_back(decode_slice(f.bytes));
  }
  if (!has_shape) throw DataLoss("SavedSliceMeta of " + quoted(m.name) + " has no shape");
  return m;
}

// Product of dims; throws when it overflows int64.
int64_t element_count(const Dims& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (__builtin_mul_overflow(n, d, &n)) throw DataLoss(what + ": shape has more than 2^63 elements");
  }
  return n;
}

// The slice's shape after checking it against the tensor's: one extent per
// dimension, each inside it.
Dims slice_shape(const SliceExtents& extents, const Dims& shape, const std::string& what) {
  if (extents.size() != shape.size()) {
    throw DataLoss(what + ": a stored slice has " + std::to_string(extents.size()) + " extents for a tensor of rank " +
                   std::to_string(shape.size()));
  }
  Dims out;
  for (size_t d = 0; d < extents.size(); d++) {
    const Extent& e = extents[d];
    if (e.full()) {
      out.push_back(shape[d]);
      continue;
    }
    if (e.start > shape[d] || e.length > shape[d] - e.start) {
      throw DataLoss(what + ": a stored slice lies outside the tensor's shape");
    }
    out.push_back(e.length);
  }
  return out;
}

bool same_extents(const SliceExtents& a, const SliceExtents& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Extent& x, const Extent& y) { return x.start == y.start && x.length == y.length; });
}

}  // namespace

bool V1Tensor::whole() const {
  if (slices.size() != 1) return false;
  const SliceExtents& extents = slices[0].extents;
  for (size_t d = 0; d < extents.size(); d++) {
    if (!extents[d].full() && (extents[d].start != 0 || extents[d].length != shape[d])) return false;
  }
  return true;
}

V1Reader::V1Reader(std::vector<std::string> files) : files_(std::move(files)) {
  if (files_.empty()) throw FileMissing("a V1 checkpoint needs at least one file");
  std::map<std::string, uint32_t, std::less<>> index_of;  // tensor name -> tensors_ index
  for (uint32_t fi = 0; fi < files_.size(); fi++) {
    File file;
    file.mapped = MappedFile::open(files_[fi]);
    std::string_view bytes;
    if (file.mapped->mapped()) {
      bytes = file.mapped->bytes();
    } else {
      file.copy = std::make_unique<std::string>(static_cast<size_t>(file.mapped->size()), '\0');
      file.mapped->read(0, file.copy->size(), file.copy->data());
      bytes = *file.copy;
    }
    load_file(fi, std::move(file), bytes, &index_of);
  }
  index_entries();
}

V1Reader V1Reader::from_bytes(std::string bytes) {
  V1Reader r;
  r.files_.push_back("<bytes>");
  File file;
  file.copy = std::make_unique<std::string>(std::move(bytes));
  const std::string_view view = *file.copy;
  std::map<std::string, uint32_t, std::less<>> index_of;
  r.load_file(0, std::move(file), view, &index_of);
  r.index_entries();
  return r;
}

void V1Reader::load_file(uint32_t fi, File file, std::string_view bytes,
                         std::map<std::string, uint32_t, std::less<>>* index_of) {
  const std::string& path = files_[fi];
  file.table = std::make_unique<Table>(bytes, path);
  BlockContents holder;
  std::string_view record;
  if (!file.table->get("", &holder, &record)) {
    throw DataLoss(path + ": not a V1 checkpoint (its table has no metadata entry, key \"\")");
  }
  try {
    std::string_view meta;
    bool has_meta = false;
    wire::Cursor cursor(record, "SavedTensorSlices");
    wire::Field f;
    while (cursor.next(&f)) {
      if (f.number() == 1 && f.type() == wire::kLengthDelimited) {
        meta = f.bytes;
        has_meta = true;
      }
    }
    if (!has_meta) throw DataLoss("the metadata entry holds no SavedTensorSliceMeta");
    BundleHeader versions;
    std::vector<std::string_view> metas;
    wire::Cursor mc(meta, "SavedTensorSliceMeta");
    while (mc.next(&f)) {
      if (f.number() == 1 && f.type() == wire::kLengthDelimited) metas.push_back(f.bytes);
      if (f.number() == 2 && f.type() == wire::kLengthDelimited) decode_version(f.bytes, &versions);
    }
    check_header_versions(versions, path);
    for (std::string_view bytes_of_meta : metas) {
      SliceMeta m = decode_slice_meta(bytes_of_meta);
      const std::string what = "tensor " + quoted(m.name);
      if (element_size(m.dtype) == 0 && m.dtype != kString) {
        throw DataLoss(what + " has dtype " + std::to_string(m.dtype) + ", which a V1 checkpoint cannot hold");
      }
      // Byte sizes must fit int64 too (entry() reports them; no file holds more).
      int64_t bytes;
      if (__builtin_mul_overflow(element_count(m.shape, what), std::max(element_size(m.dtype), 1), &bytes)) {
        throw DataLoss(what + ": shape has more than 2^63 bytes");
      }
      auto [it, added] = index_of->emplace(std::string(m.name), static_cast<uint32_t>(tensors_.size()));
      if (added) {
        V1Tensor t;
        t.name = std::string(m.name);
        t.dtype = m.dtype;
        t.shape = m.shape;
        tensors_.push_back(std::move(t));
      }
      V1Tensor& t = tensors_[it->second];
      if (t.dtype != m.dtype || t.shape != m.shape) {
        throw DataLoss(what + " is listed with different dtypes or shapes in different files");
      }
      for (SliceExtents& extents : m.slices) {
        V1Slice s;
        s.shape = slice_shape(extents, t.shape, what);
        s.num_elements = element_count(s.shape, what);
        for (const V1Slice& other : t.slices) {
          if (same_extents(other.extents, extents)) throw DataLoss(what + " lists the same slice twice");
        }
        s.key = encode_slice_key(t.name, extents);
        s.extents = std::move(extents);
        s.file = fi;
        t.slices.push_back(std::move(s));
      }
    }
  } catch (const DataLoss& e) {
    throw DataLoss(path + ": metadata: " + e.what());
  }
  opened_.push_back(std::move(file));
}

void V1Reader::index_entries() {
  for (uint32_t ti = 0; ti < tensors_.size(); ti++) {
    const V1Tensor& t = tensors_[ti];
    entries_.push_back(Entry{t.name, ti, -1});
    if (t.whole()) continue;
    for (size_t si = 0; si < t.slices.size(); si++)
      entries_.push_back(Entry{t.slices[si].key, ti, static_cast<int32_t>(si)});
  }
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  for (size_t i = 1; i < entries_.size(); i++) {
    if (entries_[i].key == entries_[i - 1].key) {
      throw DataLoss(files_[0] + ": the key " + quoted(entries_[i].key) + " names two things");
    }
  }
}

const Dims& V1Reader::shape(size_t i) const {
  const V1Tensor& t = tensor(i);
  return hidden(i) ? t.slices[static_cast<size_t>(entries_[i].slice)].shape : t.shape;
}

uint32_t V1Reader::slice_file(size_t i) const {
  const V1Tensor& t = tensor(i);
  if (t.slices.empty()) return 0;
  return t.slices[hidden(i) ? static_cast<size_t>(entries_[i].slice) : 0].file;
}

size_t V1Reader::position(std::string_view key) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [](const Entry& e, std::string_view k) { return std::string_view(e.key) < k; });
  return it != entries_.end() && it->key == key ? static_cast<size_t>(it - entries_.begin()) : entries_.size();
}

size_t V1Reader::find(std::string_view key) const {
  const size_t i = position(key);
  if (i == entries_.size()) throw NotFound("Key " + std::string(key) + " not found in checkpoint");
  return i;
}

void V1Reader::fail(const V1Tensor& t, const V1Slice& s, const std::string& problem) const {
  throw DataLoss(files_[s.file] + ": tensor " + quoted(t.name) + ": " + problem);
}

V1SliceValue V1Reader::slice_value(const V1Tensor& t, const V1Slice& s) const {
  V1SliceValue v{&t, &s, {}, {}};
  std::string_view record;
  if (!opened_[s.file].table->get(s.key, &v.holder, &record)) {
    fail(t, s, "a slice listed in the metadata has no record");
  }
  try {
    std::string_view saved_slice;
    wire::Cursor cursor(record, "SavedTensorSlices");
    wire::Field f;
    while (cursor.next(&f)) {
      if (f.number() == 2 && f.type() == wire::kLengthDelimited) saved_slice = f.bytes;
    }
    std::string_view name;
    SliceExtents extents;
    bool has_data = false;
    wire::Cursor sc(saved_slice, "SavedSlice");
    while (sc.next(&f)) {
      if (f.type() != wire::kLengthDelimited) continue;
      if (f.number() == 1) name = f.bytes;
      if (f.number() == 2) extents = decode_slice(f.bytes);
      if (f.number() == 3) {
        v.tensor_proto = f.bytes;
        has_data = true;
      }
    }
    if (name != t.name || !same_extents(extents, s.extents)) {
      throw DataLoss("the record under its slice key belongs to another tensor or slice");
    }
    if (!has_data && s.num_elements > 0) throw DataLoss("a slice's record holds no values");
  } catch (const DataLoss& e) {
    fail(t, s, e.what());
  }
  // Every encoding stores at least one byte per element.
  if (static_cast<uint64_t>(s.num_elements) > v.tensor_proto.size()) {
    fail(t, s,
         "a slice of " + std::to_string(s.num_elements) + " elements has only " +
             std::to_string(v.tensor_proto.size()) + " bytes of values");
  }
  return v;
}

V1SliceValue V1Reader::value(size_t i) const {
  const V1Tensor& t = tensor(i);
  if (partitioned(i)) throw InvalidArgument("tensor " + quoted(t.name) + " is stored in slices; read them one by one");
  return slice_value(t, t.slices[hidden(i) ? static_cast<size_t>(entries_[i].slice) : 0]);
}

void V1Reader::decode_into(const V1SliceValue& v, void* dst, size_t n) const {
  const size_t width = static_cast<size_t>(element_size(v.tensor->dtype));
  if (width == 0 || n != static_cast<size_t>(v.slice->num_elements) * width) {
    throw InvalidArgument("tensor " + quoted(v.tensor->name) + ": destination has the wrong size or dtype");
  }
  try {
    decode_tensor_values(v.tensor_proto, v.tensor->dtype, v.slice->num_elements, static_cast<char*>(dst));
  } catch (const DataLoss& e) {
    fail(*v.tensor, *v.slice, e.what());
  }
}

std::vector<std::string_view> V1Reader::decode_strings(const V1SliceValue& v) const {
  if (v.tensor->dtype != kString) throw InvalidArgument("tensor " + quoted(v.tensor->name) + " is not a string tensor");
  try {
    return decode_tensor_strings(v.tensor_proto, v.slice->num_elements);
  } catch (const DataLoss& e) {
    fail(*v.tensor, *v.slice, e.what());
  }
}

void V1Reader::verify_slice(const V1Tensor& t, const V1Slice& s) const {
  const V1SliceValue v = slice_value(t, s);
  if (t.dtype == kString) {
    decode_strings(v);
    return;
  }
  std::string scratch(static_cast<size_t>(s.num_elements) * static_cast<size_t>(element_size(t.dtype)), '\0');
  decode_into(v, scratch.data(), scratch.size());
}

void V1Reader::verify(size_t i) const {
  const V1Tensor& t = tensor(i);
  if (hidden(i)) {
    verify_slice(t, t.slices[static_cast<size_t>(entries_[i].slice)]);
    return;
  }
  for (const V1Slice& s : t.slices) verify_slice(t, s);
}

void V1Reader::verify_files() const {
  for (const File& f : opened_) f.table->check_all_blocks();
}

}  // namespace tfbundle
