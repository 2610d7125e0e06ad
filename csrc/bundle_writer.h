// Writes a tensor bundle the way TensorFlow's BundleWriter does, streaming:
// each tensor's bytes go to a data shard as soon as it is added (checksummed
// on the way), and only the small entry protos are kept until finish().
//
// Files are created under temporary names next to their final names
// (`<final>.tfbundle-tmp.<host>.<pid>.<random>`) and renamed by finish(): the data shards
// first, the index last, so the index's appearance marks a complete bundle.
// abort() (and the destructor of an unfinished writer) removes them all.
//
// Every public method may be called from several threads at once: they take
// turns (one lock), so callers that release the GIL cannot interleave their
// updates of a shard.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_entry.h"
#include "mapped_file.h"

namespace tfbundle {

class BundleWriter {
 public:
  // Creates `num_shards` (>= 1) temporary data files. Throws FileMissing if
  // the directory does not exist, IoError on other failures.
  BundleWriter(std::string prefix, int32_t num_shards);
  ~BundleWriter();
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  // Adds a fixed-size tensor whose `n` bytes (host order) are at `data`.
  // Throws InvalidArgument on a duplicate or empty key or a size mismatch.
  // `shard` picks the data shard; < 0 picks the one with the fewest bytes.
  void add(const std::string& key, int32_t dtype, const Dims& shape, const void* data, size_t n, int32_t shard = -1);
  // One fixed-size tensor of a batch (see add_batch).
  struct Item {
    std::string key;
    int32_t dtype = 0;
    Dims shape;
    const void* data = nullptr;  // n bytes in host order
    size_t n = 0;
    int32_t shard = -1;  // < 0: the emptiest data shard, counting the batch
  };
  // Adds fixed-size tensors as add() would one after another (same shards,
  // same offsets, same files), but writes different shards concurrently, one
  // thread per core. Everything is validated before a byte is written; if a
  // write fails, the writer aborts and the error is rethrown.
  void add_batch(const std::vector<Item>& items);
  // Adds a DT_STRING tensor.
  void add_strings(const std::string& key, const Dims& shape, const std::vector<std::string_view>& items,
                   int32_t shard = -1);
  // Adds an already-encoded payload (for instance copied from another
  // bundle, whose checksum the caller verified) with its masked checksum,
  // to data shard `shard` (or the emptiest one when shard < 0).
  void add_encoded(const std::string& key, int32_t dtype, const Dims& shape, const void* payload, size_t n,
                   uint32_t masked_crc, int32_t shard);
  // Copies n bytes at `offset` of `file` (another bundle's payload of a
  // fixed-size tensor) in chunks, checking on the way that they match
  // `masked_crc`, so the payload is read once and never held whole.
  // Throws DataLoss on a mismatch (the caller then aborts the writer).
  void add_from_file(const std::string& key, int32_t dtype, const Dims& shape, const MappedFile& file, uint64_t offset,
                     size_t n, uint32_t masked_crc, int32_t shard);
  // Records that the entry just added under encode_slice_key(name, slice)
  // is one slice of the partitioned variable `name`.
  void add_slice_of(const std::string& name, int32_t dtype, const std::vector<int64_t>& full_shape,
                    const SliceExtents& slice);

  // Writes the index and renames everything into place. With `sync`, files
  // and the directory are fsynced first. On failure the writer aborts.
  void finish(bool sync);
  void abort();

  const std::string& prefix() const { return prefix_; }
  bool finished() const;
  // Final paths of the data files, in shard order.
  std::vector<std::string> data_paths() const;

 private:
  struct Shard {
    std::string final_path;
    std::string temp_path;
    int fd = -1;
    uint64_t size = 0;        // bytes appended so far
    std::string pending;      // appended but not yet written
    bool can_reserve = true;  // false once fallocate proved unsupported
  };
  struct Partitioned {
    int32_t dtype = 0;
    std::vector<int64_t> full_shape;
    std::vector<SliceExtents> slices;
  };

  void check_new_key(const std::string& key) const;
  // The requested shard, or the emptiest when shard < 0.
  size_t pick_shard(const std::string& key, int32_t shard) const;
  // Appends a payload to a shard and records its entry (without checksum);
  // returns the unmasked checksum of the bytes.
  uint32_t append_entry(const std::string& key, int32_t dtype, const Dims& shape, size_t shard, const char* payload,
                        size_t n);
  // How append checksums a payload: while writing it (a large one on
  // another thread meanwhile, kOverlapLarge), or not at all (kNone: the
  // caller checksums it elsewhere).
  enum class Checksum : uint8_t { kInline, kOverlapLarge, kNone };
  // Appends to a shard and returns the unmasked checksum of the bytes (0
  // with Checksum::kNone).
  uint32_t append(Shard* shard, const char* data, size_t n, Checksum checksum = Checksum::kOverlapLarge);
  // Checks a fixed-size tensor's key, dtype and size against its shape.
  void check_fixed(const std::string& key, int32_t dtype, const Dims& shape, size_t n) const;
  void write_pending(Shard* shard);
  // Reserves disk blocks for the next n bytes of `shard`, which are about to
  // be written at its current end on disk (best effort; see the .cc).
  void reserve(Shard* shard, size_t n);
  void write_all(int fd, const std::string& path, const char* data, size_t n);
  std::string build_index();
  // Closes and removes every temporary file (abort() without the lock).
  void discard();
  void commit(bool sync);

  enum State : uint8_t { kOpen, kFinished, kAborted };
  mutable std::mutex mu_;  // held by every public method
  std::string prefix_;
  std::vector<Shard> shards_;
  std::map<std::string, BundleEntry> entries_;  // std::string orders bytewise
  std::map<std::string, Partitioned> partitioned_;
  std::string index_temp_path_;
  State state_ = kOpen;
};

// Checks that `slices` tile `full_shape` without overlap; throws
// InvalidArgument naming `name` otherwise.
void check_slices_tile(const std::string& name, const std::vector<int64_t>& full_shape,
                       const std::vector<SliceExtents>& slices);

}  // namespace tfbundle
