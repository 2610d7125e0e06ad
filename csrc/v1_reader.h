// Reads a V1 checkpoint: TensorFlow's TensorSliceWriter format, written
// before TF 1.0 and by Saver(write_version=V1) since. There is no `.index`:
// the checkpoint is one file `P`, or shards `P-SSSSS-of-NNNNN`, each a table
// (table_reader.h) whose values are SavedTensorSlices messages:
//   key ""            meta  = 1: SavedTensorSliceMeta {tensor = 1 (repeated
//                     SavedSliceMeta {name = 1, shape = 2, type = 3, slice = 4}),
//                     versions = 2}; each file lists the slices it holds
//   key of a slice    data  = 2: SavedSlice {name = 1, slice = 2 (TensorSliceProto),
//                     data = 3 (TensorProto, values in its typed fields)}
// Slice keys are encode_slice_key(name, extents). Only block checksums
// exist (no per-tensor CRC).
//
// The reader presents what the bundle reader presents: entries sorted by
// key, one per tensor, plus (hidden) one per stored slice of a tensor that
// is stored in several slices, so the same assembly code serves both.
// Opening reads each file's index block and metadata entry; data blocks are
// read when a tensor is. Const methods are safe to call from several threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_entry.h"
#include "mapped_file.h"
#include "table_reader.h"

namespace tfbundle {

struct V1Slice {
  SliceExtents extents;
  Dims shape;  // the slice's own shape
  int64_t num_elements = 0;
  uint32_t file = 0;  // which of the reader's files holds it
  std::string key;    // its table key
};

struct V1Tensor {
  std::string name;
  int32_t dtype = 0;
  Dims shape;
  std::vector<V1Slice> slices;
  // Stored as one slice that covers the whole tensor (read without assembly).
  bool whole() const;
};

// One slice's stored values, located and checked against the metadata;
// `holder` keeps the bytes `tensor_proto` points into alive.
struct V1SliceValue {
  const V1Tensor* tensor = nullptr;
  const V1Slice* slice = nullptr;
  BlockContents holder;
  std::string_view tensor_proto;
};

class V1Reader {
 public:
  // `files`: every file of the checkpoint. Throws FileMissing or DataLoss.
  explicit V1Reader(std::vector<std::string> files);
  // One V1 file held in memory (copied); for tests and fuzzing.
  static V1Reader from_bytes(std::string bytes);

  const std::vector<std::string>& files() const { return files_; }

  size_t num_entries() const { return entries_.size(); }
  std::string_view key(size_t i) const { return entries_[i].key; }
  // Slices of a tensor stored in several slices (TensorFlow hides them too).
  bool hidden(size_t i) const { return entries_[i].slice >= 0; }
  const V1Tensor& tensor(size_t i) const { return tensors_[entries_[i].tensor]; }
  int32_t dtype(size_t i) const { return tensor(i).dtype; }
  // A tensor's shape, or a hidden slice's.
  const Dims& shape(size_t i) const;
  // A tensor stored in several slices (or in one that does not cover it).
  bool partitioned(size_t i) const { return !hidden(i) && !tensor(i).whole(); }
  // Which file holds entry i (for a tensor in slices, its first slice).
  uint32_t slice_file(size_t i) const;
  // The index of `key`, or num_entries() when absent.
  size_t position(std::string_view key) const;
  // position(), throwing NotFound when absent.
  size_t find(std::string_view key) const;

  // The stored values of a non-partitioned entry. Checks that the slice's
  // record exists and names this tensor and slice, and that its encoded
  // values have at least one byte per element, so that allocating for the
  // declared element count is bounded by the file. Throws DataLoss.
  V1SliceValue value(size_t i) const;
  // Decodes fixed-size values into dst, which holds n bytes (n must be the
  // slice's elements × element size). Throws DataLoss.
  void decode_into(const V1SliceValue& v, void* dst, size_t n) const;
  // The strings of a DT_STRING slice (views into v.holder).
  std::vector<std::string_view> decode_strings(const V1SliceValue& v) const;

  // Reads and decodes every slice of entry i; throws DataLoss naming it.
  void verify(size_t i) const;
  // Checks every block of every file (checksums and entry structure).
  void verify_files() const;

 private:
  struct Entry {
    std::string key;
    uint32_t tensor;
    int32_t slice;  // -1: the tensor itself
  };
  // A file, its bytes (mapped, or read into `copy` when mapping is off) and
  // its table.
  struct File {
    std::shared_ptr<MappedFile> mapped;
    std::unique_ptr<std::string> copy;
    std::unique_ptr<Table> table;
  };

  V1Reader() = default;
  // Reads file `fi`'s metadata into tensors_; `bytes` are its contents.
  void load_file(uint32_t fi, File file, std::string_view bytes,
                 std::map<std::string, uint32_t, std::less<>>* index_of);
  // Builds entries_ from tensors_, once every file is loaded.
  void index_entries();
  V1SliceValue slice_value(const V1Tensor& t, const V1Slice& s) const;
  void verify_slice(const V1Tensor& t, const V1Slice& s) const;
  [[noreturn]] void fail(const V1Tensor& t, const V1Slice& s, const std::string& problem) const;

  std::vector<std::string> files_;
  std::vector<File> opened_;
  std::vector<V1Tensor> tensors_;
  std::vector<Entry> entries_;  // sorted by key
};

}  // namespace tfbundle
