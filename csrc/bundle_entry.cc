#include "bundle_entry.h"

#include "errors.h"
#include "proto_wire.h"

namespace tfbundle {

namespace {

constexpr int kMaxDims = 254;  // TensorShape's limit; TF rejects 255

}  // namespace

void decode_version(std::string_view bytes, BundleHeader* header) {
  wire::Cursor cursor(bytes, "VersionDef");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == 1 && f.type() == wire::kVarint) header->producer = static_cast<int32_t>(f.value);
    if (f.number() == 2 && f.type() == wire::kVarint) header->min_consumer = static_cast<int32_t>(f.value);
    if (f.number() == 3) {
      wire::for_each_varint(f, "VersionDef",
                            [&](uint64_t v) { header->bad_consumers.push_back(static_cast<int32_t>(v)); });
    }
  }
}

// Appends a saved tensor's dims to *dims: every dim known and >= 0.
void decode_saved_shape(std::string_view bytes, Dims* dims) {
  bool unknown_rank = false;
  decode_shape_proto(bytes, dims, &unknown_rank);
  if (unknown_rank) throw DataLoss("malformed TensorShapeProto: unknown rank in a saved tensor");
  for (int64_t d : *dims) {
    if (d < 0) throw DataLoss("malformed TensorShapeProto: negative or unknown dimension");
  }
}

SliceExtents decode_slice(std::string_view bytes) {
  SliceExtents extents;
  wire::Cursor cursor(bytes, "TensorSliceProto");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() != 1 || f.type() != wire::kLengthDelimited) continue;
    Extent e;
    bool has_length = false;
    wire::Cursor ec(f.bytes, "TensorSliceProto.Extent");
    wire::Field x;
    while (ec.next(&x)) {
      if (x.number() == 1 && x.type() == wire::kVarint) e.start = static_cast<int64_t>(x.value);
      if (x.number() == 2 && x.type() == wire::kVarint) {
        e.length = static_cast<int64_t>(x.value);
        has_length = true;
      }
    }
    if (!has_length) e.length = -1;
    if (e.start < 0 || (has_length && e.length < 0)) {
      throw DataLoss("malformed TensorSliceProto: negative start or length");
    }
    if (!has_length && e.start != 0) throw DataLoss("malformed TensorSliceProto: full extent with a start");
    extents.push_back(e);
    if (extents.size() > kMaxDims) throw DataLoss("malformed TensorSliceProto: too many extents");
  }
  return extents;
}

namespace {

void put_shape(std::string* out, const Dims& shape) {
  std::string shape_bytes;
  for (int64_t d : shape) {
    std::string dim;
    if (d != 0) wire::put_varint_field(&dim, 1, static_cast<uint64_t>(d));
    wire::put_bytes_field(&shape_bytes, 2, dim);
  }
  wire::put_bytes_field(out, 2, shape_bytes);
}

}  // namespace

Dims decode_shape_proto(std::string_view bytes, bool* unknown_rank) {
  Dims dims;
  decode_shape_proto(bytes, &dims, unknown_rank);
  return dims;
}

void decode_shape_proto(std::string_view bytes, Dims* dims, bool* unknown_rank) {
  *unknown_rank = false;
  wire::Cursor cursor(bytes, "TensorShapeProto");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == 2 && f.type() == wire::kLengthDelimited) {
      int64_t size = 0;
      wire::Cursor dim(f.bytes, "TensorShapeProto.Dim");
      wire::Field d;
      while (dim.next(&d)) {
        if (d.number() == 1 && d.type() == wire::kVarint) size = static_cast<int64_t>(d.value);
      }
      if (dims->size() >= static_cast<size_t>(kMaxDims))
        throw DataLoss("malformed TensorShapeProto: more than 254 dimensions");
      dims->push_back(size);
    } else if (f.number() == 3 && f.type() == wire::kVarint) {
      *unknown_rank = f.value != 0;
    }
  }
}

int64_t BundleEntry::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded by decode_entry
  return n;
}

BundleHeader decode_header(std::string_view bytes) {
  BundleHeader header;
  wire::Cursor cursor(bytes, "BundleHeaderProto");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.number() == 1 && f.type() == wire::kVarint) header.num_shards = static_cast<int32_t>(f.value);
    if (f.number() == 2 && f.type() == wire::kVarint) {
      if (f.value > 1) throw DataLoss("malformed BundleHeaderProto: unknown endianness " + std::to_string(f.value));
      header.big_endian = f.value == 1;
    }
    if (f.number() == 3 && f.type() == wire::kLengthDelimited) decode_version(f.bytes, &header);
  }
  if (header.num_shards < 0) throw DataLoss("malformed BundleHeaderProto: negative num_shards");
  return header;
}

void check_header_versions(const BundleHeader& header, const std::string& where) {
  // A reader at consumer version 1, as TensorFlow's kTensorBundleVersion.
  constexpr int32_t kConsumer = 1;
  if (header.producer < 0) {
    throw DataLoss(where + ": bundle producer version " + std::to_string(header.producer) + " is invalid");
  }
  if (header.min_consumer > kConsumer) {
    throw DataLoss(where + ": bundle requires reader version " + std::to_string(header.min_consumer) +
                   "; this reader is version 1");
  }
  for (int32_t bad : header.bad_consumers) {
    if (bad == kConsumer) throw DataLoss(where + ": bundle disallows reader version 1");
  }
}

BundleEntry decode_entry(std::string_view bytes) {
  BundleEntry e;
  decode_entry(bytes, &e);
  return e;
}

void decode_entry(std::string_view bytes, BundleEntry* out) {
  BundleEntry& e = *out;
  e.dtype = 0;
  e.shape = Dims();
  e.shard_id = 0;
  e.offset = 0;
  e.size = 0;
  e.masked_crc = 0;
  e.has_crc = false;
  e.slices.clear();
  wire::Cursor cursor(bytes, "BundleEntryProto");
  wire::Field f;
  while (cursor.next(&f)) {
    switch (f.number()) {
      case 1:
        if (f.type() == wire::kVarint) e.dtype = static_cast<int32_t>(f.value);
        break;
      case 2:
        // A repeated message field merges, as in protobuf: dims append.
        if (f.type() == wire::kLengthDelimited) decode_saved_shape(f.bytes, &e.shape);
        break;
      case 3:
        if (f.type() == wire::kVarint) e.shard_id = static_cast<int32_t>(f.value);
        break;
      case 4:
        if (f.type() == wire::kVarint) e.offset = static_cast<int64_t>(f.value);
        break;
      case 5:
        if (f.type() == wire::kVarint) e.size = static_cast<int64_t>(f.value);
        break;
      case 6:
        if (f.type() == wire::kFixed32) {
          e.masked_crc = static_cast<uint32_t>(f.value);
          e.has_crc = true;
        }
        break;
      case 7:
        if (f.type() == wire::kLengthDelimited) e.slices.push_back(decode_slice(f.bytes));
        break;
      default:
        break;
    }
  }
  if (e.shard_id < 0 || e.offset < 0 || e.size < 0) {
    throw DataLoss("malformed BundleEntryProto: negative shard_id, offset or size");
  }
  // The element count must fit int64 (TensorFlow's limit too).
  int64_t n = 1;
  for (int64_t d : e.shape) {
    if (__builtin_mul_overflow(n, d, &n)) throw DataLoss("malformed BundleEntryProto: shape has too many elements");
  }
}

std::string encode_header(const BundleHeader& header) {
  std::string out;
  if (header.num_shards != 0) wire::put_varint_field(&out, 1, static_cast<uint64_t>(header.num_shards));
  if (header.big_endian) wire::put_varint_field(&out, 2, 1);
  std::string version;
  if (header.producer != 0) wire::put_varint_field(&version, 1, static_cast<uint64_t>(header.producer));
  if (header.min_consumer != 0) wire::put_varint_field(&version, 2, static_cast<uint64_t>(header.min_consumer));
  for (int32_t b : header.bad_consumers) wire::put_varint_field(&version, 3, static_cast<uint64_t>(b));
  wire::put_bytes_field(&out, 3, version);
  return out;
}

std::string encode_slice(const SliceExtents& slice) {
  std::string out;
  for (const Extent& e : slice) {
    std::string extent;
    if (!e.full()) {
      if (e.start != 0) wire::put_varint_field(&extent, 1, static_cast<uint64_t>(e.start));
      wire::put_varint_field(&extent, 2, static_cast<uint64_t>(e.length));
    }
    wire::put_bytes_field(&out, 1, extent);
  }
  return out;
}

std::string encode_entry(const BundleEntry& e) {
  std::string out;
  if (e.dtype != 0) wire::put_varint_field(&out, 1, static_cast<uint64_t>(e.dtype));
  put_shape(&out, e.shape);
  if (e.shard_id != 0) wire::put_varint_field(&out, 3, static_cast<uint64_t>(e.shard_id));
  if (e.offset != 0) wire::put_varint_field(&out, 4, static_cast<uint64_t>(e.offset));
  if (e.size != 0) wire::put_varint_field(&out, 5, static_cast<uint64_t>(e.size));
  if (e.has_crc && e.masked_crc != 0) wire::put_fixed32_field(&out, 6, e.masked_crc);
  for (const SliceExtents& s : e.slices) wire::put_bytes_field(&out, 7, encode_slice(s));
  return out;
}

}  // namespace tfbundle
