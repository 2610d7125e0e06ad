// The protobuf values of a bundle's `.index` table:
//   key ""      -> BundleHeaderProto {num_shards=1, endianness=2, version=3}
//   other keys  -> BundleEntryProto {dtype=1, shape=2, shard_id=3, offset=4,
//                                    size=5, crc32c=6 (fixed32), slices=7}
// Decoding validates what the rest of the core relies on (non-negative dims
// whose product fits int64, offset/size >= 0); encoding emits fields in
// number order and omits zero scalars, as TensorFlow's proto3 writer does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dims.h"

namespace tfbundle {

// One dimension of a TensorSliceProto: length -1 means "the whole dimension"
// (an Extent with no length).
struct Extent {
  int64_t start = 0;
  int64_t length = -1;
  bool full() const { return length < 0; }
};
using SliceExtents = std::vector<Extent>;

struct BundleHeader {
  int32_t num_shards = 0;
  bool big_endian = false;
  int32_t producer = 0;
  int32_t min_consumer = 0;
  std::vector<int32_t> bad_consumers;
};

struct BundleEntry {
  int32_t dtype = 0;
  Dims shape;
  int32_t shard_id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  uint32_t masked_crc = 0;
  bool has_crc = false;
  std::vector<SliceExtents> slices;

  // Product of the shape (1 for a scalar). Valid after decode (checked).
  int64_t num_elements() const;
};

// The dims of a TensorShapeProto (dim = 2 with size = 1; unknown_rank = 3),
// as stored (unknown dims are -1). Throws DataLoss if malformed or > 254 dims.
Dims decode_shape_proto(std::string_view bytes, bool* unknown_rank);
// The same, appending to *dims (which the caller passes empty).
void decode_shape_proto(std::string_view bytes, Dims* dims, bool* unknown_rank);

// A saved tensor's dims appended to *dims: every dim known and >= 0.
void decode_saved_shape(std::string_view bytes, Dims* dims);
// A TensorSliceProto (extent = 1: start = 1, length = 2); no length is a
// full extent. Throws DataLoss on negative values or > 254 extents.
SliceExtents decode_slice(std::string_view bytes);
// A VersionDef (producer = 1, min_consumer = 2, bad_consumers = 3) into the
// version fields of *header.
void decode_version(std::string_view bytes, BundleHeader* header);

// Throws DataLoss with a message starting "what: ".
BundleHeader decode_header(std::string_view bytes);
// Throws DataLoss if the header's versions rule out reading it (as TF does).
void check_header_versions(const BundleHeader& header, const std::string& where);
BundleEntry decode_entry(std::string_view bytes);
// The same into *entry, reusing its storage (the reader decodes in place).
void decode_entry(std::string_view bytes, BundleEntry* entry);

std::string encode_header(const BundleHeader& header);
std::string encode_entry(const BundleEntry& entry);
// Encodes a TensorSliceProto (full extents as empty Extent messages).
std::string encode_slice(const SliceExtents& slice);

}  // namespace tfbundle
