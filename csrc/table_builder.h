// Builds the `.index` table exactly as TensorFlow's table::TableBuilder does
// with the options TensorFlow's BundleWriter uses (256 KiB blocks, restart
// interval 16 for data blocks and 1 for the index block, no compression), so
// that the same entries give byte-identical files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "block.h"

namespace tfbundle {

// Accumulates one block's entries with prefix compression.
class BlockBuilder {
 public:
  explicit BlockBuilder(int restart_interval) : restart_interval_(restart_interval) { reset(); }
  void reset();
  // REQUIRES: key > every key added since reset().
  void add(std::string_view key, std::string_view value);
  // Appends the restart array and returns the finished contents.
  std::string_view finish();
  size_t size_estimate() const { return buffer_.size() + restarts_.size() * 4 + 4; }
  bool empty() const { return buffer_.empty(); }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;
  std::string last_key_;
};

class TableBuilder {
 public:
  static constexpr size_t kBlockSize = size_t{256} * 1024;

  TableBuilder() : data_block_(16), index_block_(1) {}
  // REQUIRES: key > every key added before (bytewise). Checked by the caller.
  void add(std::string_view key, std::string_view value);
  // Returns the whole table; the builder is spent afterwards.
  std::string finish();

 private:
  void flush();
  BlockHandle write_block(BlockBuilder* block);

  std::string out_;
  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::string last_key_;
  int64_t num_entries_ = 0;
  // The index entry for a flushed block waits for the next key, so that its
  // separator can be short. Invariant: pending only while data_block_ is empty.
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;
};

}  // namespace tfbundle
