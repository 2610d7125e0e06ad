// The decoded entries of a bundle's index, held compactly: opening a
// checkpoint with a million keys keeps a million of these. Each entry is a
// 40-byte record; all keys share one string and all dims one int64 array;
// the rare slice lists (partitioned variables) live in a side vector.
//
// Keys must be appended in strictly increasing order (the table reader
// checks it); position() relies on that.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_entry.h"

namespace tfbundle {

class EntryTable {
 public:
  // Reserves room for the entries of roughly `index_bytes` of index.
  void reserve(size_t index_bytes);
  // Appends an entry (`key` greater than every key so far).
  void append(std::string_view key, const BundleEntry& e);

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  std::string_view key(size_t i) const {
    return std::string_view(key_bytes_).substr(key_ends_[i], key_ends_[i + 1] - key_ends_[i]);
  }
  int32_t dtype(size_t i) const { return records_[i].dtype; }
  int32_t shard_id(size_t i) const { return records_[i].shard_id; }
  int64_t offset(size_t i) const { return records_[i].offset; }
  int64_t size(size_t i) const { return records_[i].size; }
  uint32_t masked_crc(size_t i) const { return records_[i].masked_crc; }
  bool has_crc(size_t i) const { return records_[i].has_crc; }
  const int64_t* dims(size_t i) const { return dims_.data() + records_[i].dims_at; }
  size_t rank(size_t i) const { return records_[i].rank; }
  bool partitioned(size_t i) const { return records_[i].slices_at != kNoSlices; }
  const std::vector<SliceExtents>& slices(size_t i) const { return slices_[records_[i].slices_at]; }
  bool hidden(size_t i) const { return records_[i].hidden; }
  void set_hidden(size_t i) { records_[i].hidden = true; }
  // The whole entry, assembled (cheap, but not free: per-tensor paths only).
  BundleEntry entry(size_t i) const;
  // The index of `key`, or size() when absent (binary search).
  size_t position(std::string_view key) const;

 private:
  static constexpr uint32_t kNoSlices = UINT32_MAX;
  struct Record {
    int64_t offset;
    int64_t size;
    uint32_t dims_at;    // dims_[dims_at, dims_at + rank)
    uint32_t slices_at;  // slices_[slices_at], or kNoSlices
    int32_t shard_id;
    int32_t dtype;
    uint32_t masked_crc;
    uint16_t rank;  // <= 254, checked by decode_entry
    bool has_crc;
    bool hidden;
  };

  // Key i is key_bytes_[key_ends_[i], key_ends_[i + 1]); key_ends_[0] == 0.
  std::string key_bytes_;
  std::vector<size_t> key_ends_{0};
  std::vector<Record> records_;
  std::vector<int64_t> dims_;
  std::vector<std::vector<SliceExtents>> slices_;
};

}  // namespace tfbundle
