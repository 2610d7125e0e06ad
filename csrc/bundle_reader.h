// Reads a tensor bundle (V2 checkpoint): `prefix.index` plus the data shards
// `prefix.data-SSSSS-of-NNNNN`.
//
// Opening parses the whole index (every block checksum verified) into a
// sorted array of entries; shards are opened and mapped lazily, on first use,
// and shared with any zero-copy view handed out. Every offset, size and count
// from the file is checked against the bytes that exist before it is used.
// All const methods are safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_entry.h"
#include "entry_table.h"
#include "mapped_file.h"
#include "tensor_stats.h"
#include "tensor_strings.h"

namespace tfbundle {

class ReadAhead;

// Bytes of a variable-length tensor: views into `owner`'s mapping, or into
// `buffer` when the shard is not mapped. The buffer is on the heap behind a
// pointer so that moving a StringTensor never moves the bytes `items` view
// (a moved std::string may carry short contents inline).
struct StringTensor {
  std::shared_ptr<MappedFile> owner;
  std::unique_ptr<std::string> buffer;
  std::vector<std::string_view> items;
};

// A zero-copy view of a tensor's bytes; `owner` keeps the mapping alive.
struct TensorView {
  std::shared_ptr<MappedFile> owner;
  std::string_view bytes;
};

// Where a fixed-size, non-partitioned tensor's bytes are, after every check
// that makes reading them safe (size agrees with the shape, range inside
// the shard).
struct FixedPayload {
  std::shared_ptr<MappedFile> file;  // null when size == 0
  uint64_t offset = 0;
  size_t size = 0;
  uint32_t masked_crc = 0;
  bool has_crc = false;
  int32_t dtype = 0;
};

// Where a non-partitioned entry's payload lies: data shard and byte range.
struct PayloadRange {
  int32_t shard_id = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

// One tensor of a batch read: entry index, destination and its byte count.
struct ReadRequest {
  size_t index;
  void* dst;
  size_t n;
};

class BundleReader {
 public:
  // Throws FileMissing if `prefix.index` does not exist, DataLoss if damaged.
  explicit BundleReader(std::string prefix);
  // A bundle whose index bytes the caller fetched (from remote storage, say):
  // `prefix` only names it in messages and data paths. Its data files are
  // never opened: the caller fetches payload_range() and passes the bytes
  // to read_fetched / read_fetched_strings.
  static std::unique_ptr<BundleReader> from_index(std::string prefix, std::string_view index_bytes);
  ~BundleReader();
  BundleReader(const BundleReader&) = delete;
  BundleReader& operator=(const BundleReader&) = delete;

  const std::string& prefix() const { return prefix_; }
  const std::string& index_path() const { return index_path_; }
  const BundleHeader& header() const { return header_; }
  std::string data_path(int32_t shard_id) const;

  // Entries other than the header, in key order; hidden() marks the entries
  // that hold one slice of a partitioned variable (TF hides those too).
  size_t num_entries() const { return table_.size(); }
  std::string_view key(size_t i) const { return table_.key(i); }
  bool hidden(size_t i) const { return table_.hidden(i); }
  int32_t dtype(size_t i) const { return table_.dtype(i); }
  // The dims of entry i: dims(i)[0 .. rank(i)).
  const int64_t* dims(size_t i) const { return table_.dims(i); }
  size_t rank(size_t i) const { return table_.rank(i); }

  bool contains(std::string_view key) const { return table_.position(key) < table_.size(); }
  // The index of `key`, throwing NotFound when absent.
  size_t find(std::string_view key) const;
  bool partitioned(size_t i) const { return table_.partitioned(i); }

  // Entry i's bytes, located and checked (see FixedPayload). Throws
  // DataLoss, or InvalidArgument for a partitioned or variable-length entry.
  FixedPayload fixed_payload(size_t i) const;
  // Copies a located payload into dst (n bytes), verifying its checksum
  // when `verify` and converting big-endian data to host order.
  void read_payload(size_t i, const FixedPayload& p, void* dst, size_t n, bool verify) const;
  // Reads many fixed-size entries at once, spreading them (and the parts of
  // large ones) over the thread pool; each destination must hold exactly
  // its entry's bytes. Checks every request before copying anything.
  void read_batch(const std::vector<ReadRequest>& requests, bool verify) const;
  // The entry for `key`; throws NotFound when absent.
  BundleEntry get(std::string_view key) const;

  // The byte size of a fixed-size tensor after checking that it agrees with
  // its shape and lies inside its data shard: safe to allocate.
  uint64_t checked_size(std::string_view key) const;

  // Copies a fixed-size tensor's bytes into dst (n must equal its size),
  // verifying the checksum while copying when `verify`, and converting a
  // big-endian payload to host order.
  void read_into(std::string_view key, void* dst, size_t n, bool verify) const;

  // The mapped bytes of a fixed-size tensor, not verified and in file byte
  // order. Throws DataLoss if the shard cannot be mapped.
  TensorView view(std::string_view key) const;

  // The stored payload of any non-partitioned entry (numeric, string or
  // variant), unverified and in file byte order, for copying it verbatim.
  // Uses the mapping when there is one, else `buffer`.
  TensorView raw_payload(std::string_view key, std::string* buffer) const;

  // The data file holding a non-partitioned entry's payload, after checking
  // that [*offset, *offset + *size) lies inside it.
  std::shared_ptr<MappedFile> payload_location(std::string_view key, uint64_t* offset, uint64_t* size) const;

  // Strings (DT_STRING) or serialized VariantTensorDataProtos (DT_VARIANT).
  StringTensor read_strings(std::string_view key, bool verify) const;

  // Checks the entry's checksum (and string structure); throws DataLoss.
  void verify(std::string_view key) const;

  // Statistics of a fixed-size numeric tensor (see tensor_stats.h), taken
  // while its payload is read in cache-sized chunks and, when `verify`,
  // checksummed: the tensor is never held whole. InvalidArgument for a
  // dtype stats_supported() rejects.
  TensorStats read_stats(std::string_view key, bool verify) const;

  // The shard and byte range of a non-partitioned entry, after checking
  // that the shard exists and, for fixed-size types, that the size agrees
  // with the shape.
  PayloadRange payload_range(std::string_view key) const;
  PayloadRange payload_range(size_t i) const;
  // Copies fetched payload bytes `src` of a fixed-size entry into dst (n
  // must equal its size), as read_into does: the fetched length, then the
  // checksum when `verify`, are checked, and big-endian data is swapped.
  void read_fetched(std::string_view key, std::string_view src, void* dst, size_t n, bool verify) const;
  // Decodes fetched payload bytes of a string or variant entry (see
  // read_strings); the result's items view `src`'s copy in its buffer.
  StringTensor read_fetched_strings(std::string_view key, std::string src, bool verify) const;
  // Checks n bytes of fixed-size entry i that the caller read into `data`
  // itself: their count, then their checksum when `verify`; then swaps
  // big-endian data to host order in place.
  void check_fetched(size_t i, void* data, size_t n, bool verify) const;

  // Reads ahead of a caller reading mid-size tensors one by one in key
  // order (see read_ahead.h); null for a bundle opened from index bytes.
  ReadAhead* read_ahead() const { return read_ahead_.get(); }

 private:
  std::shared_ptr<MappedFile> shard(int32_t id) const;
  // Checks that the entry's bytes lie in its shard and returns the shard.
  std::shared_ptr<MappedFile> locate(std::string_view key, const BundleEntry& e) const;
  // Checks that [offset, offset + size) lies in data shard `shard_id` and returns the shard.
  std::shared_ptr<MappedFile> locate(std::string_view key, int32_t shard_id, uint64_t offset, uint64_t size) const;
  // Throws DataLoss unless `crc` (of the payload's bytes) matches, when `verify`.
  void check_crc(size_t i, const FixedPayload& p, uint32_t crc, bool verify) const;
  [[noreturn]] void fail(std::string_view key, const std::string& problem) const;
  BundleReader() = default;
  // Decodes the index's entries into table_ and its header into header_,
  // then checks versions, sizes the shard slots and hides slice entries.
  void load_index(std::string_view bytes);
  // The size of fixed-size entry i, checked against its shape.
  size_t fixed_size(size_t i) const;
  // Decodes a string/variant payload; `where` names its file in errors.
  DecodedStrings decode_string_payload(std::string_view key, const BundleEntry& e, std::string_view payload,
                                       bool verify, const std::string& where) const;
  // Throws DataLoss unless `fetched` bytes were fetched for entry i.
  void check_fetched_length(size_t i, size_t fetched) const;

  std::string prefix_;
  std::string index_path_;
  BundleHeader header_;
  EntryTable table_;

  bool remote_ = false;  // from_index: data files are fetched by the caller
  mutable std::mutex shards_mu_;
  mutable std::vector<std::shared_ptr<MappedFile>> shards_;
  // Last: destroyed first, while the reads it started can still use the reader.
  std::unique_ptr<ReadAhead> read_ahead_;
};

}  // namespace tfbundle
