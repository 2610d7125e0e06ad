// Reading ahead of a caller that reads a bundle's tensors one at a time in
// key order (a conversion loop over keys(), say).
//
// A tensor below 1 MiB is copied and checksummed by one core, so a loop over
// such tensors left the other core idle: 2048 tensors of 256 KiB read one
// by one took 1.8x as long as in one batch. Larger ones are split across
// the cores by copy_from_file, but each read then ends with the cores
// waiting for each other. So when the caller reads the entry of 64 KiB to
// 16 MiB that follows the last one it read, the reads of the next such
// entries (up to kDepth of them, and kAheadBytes) are handed to the thread
// pool, into pooled buffers. The caller takes a read that was started
// instead of reading again, and while a worker finishes the one it wants,
// runs any started read no worker has claimed: both cores copy, each a
// whole tensor. A read out of that order drops what was started.
//
// Nothing read ahead is ever reported: a read ahead that failed, or whose
// checksum does not match, is read again by the caller, which raises what
// its own read finds. Reads ahead always checksum (on the helping core);
// take() compares only when the caller asked to verify.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "buffer_pool.h"

namespace tfbundle {

class BundleReader;

class ReadAhead {
 public:
  // Smallest and largest-but-one sizes read ahead: smaller tensors cost less
  // to read than to hand to another core; from kMaxBytes up, a read is
  // split across the cores by itself (see copy_from_file), and holding
  // several such tensors ahead would cost too much memory.
  static constexpr size_t kMinBytes = size_t{64} << 10;
  static constexpr size_t kMaxBytes = size_t{16} << 20;
  // Reads started ahead of the caller: at most kDepth, and past the first,
  // only while they hold at most kAheadBytes.
  static constexpr size_t kDepth = 3;
  static constexpr size_t kAheadBytes = size_t{32} << 20;

  explicit ReadAhead(const BundleReader& reader);  // `reader` outlives this
  ~ReadAhead();                                    // drops every read ahead (waiting for running ones)
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Whether reads of entry i go through take(): a fixed-size, unpartitioned
  // entry of a little-endian bundle, of kMinBytes to below kMaxBytes, while
  // the thread pool has workers (see pool_has_workers).
  bool eligible(size_t i) const;

  // Entry i's bytes in a pooled buffer that the caller now owns (give it
  // back with release_buffer), if they were read ahead and, when `verify`,
  // their checksum matches; otherwise nullopt and the caller reads entry i
  // itself. Either way, when i is the eligible entry after the last one
  // taken, starts reading the next ones. REQUIRES: eligible(i).
  std::optional<Buffer> take(size_t i, bool verify);

 private:
  struct Pending;
  // The first eligible entry after entry `after` (looking a bounded way), or
  // npos.
  size_t next_eligible(size_t after) const;
  // Starts reads ahead of entry `from` until kDepth are pending. Holds mu_.
  void start_reads(size_t from);
  // Makes sure a read ahead never runs, or waits for it, and releases its buffer.
  static void drop(Pending& p);

  const BundleReader& reader_;
  std::mutex mu_;
  std::deque<std::shared_ptr<Pending>> pending_;  // in key order
  size_t last_;                                   // the entry last taken (npos: none)
};

}  // namespace tfbundle
