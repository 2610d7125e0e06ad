// Reads the sorted LevelDB-style table of a `.index` file or a V1
// checkpoint file:
//   [data block]* [metaindex block] [index block] [footer: 48 bytes]
// The footer holds the metaindex and index handles, zero padding to 40 bytes
// and the magic number. Each index entry's key is at least the last key of
// its data block (and below the next block's first), its value that block's
// handle. TensorFlow never reads the metaindex, and neither do we. Blocks
// may be stored uncompressed or Snappy-compressed (see block.h).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "block.h"

namespace tfbundle {

constexpr size_t kFooterSize = 48;
constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;

using TableVisitor = std::function<void(std::string_view key, std::string_view value)>;

// An open table over `file`, which must outlive it. Opening checks the
// footer and the index and metaindex blocks; data blocks are read (and their
// checksums checked) as lookups and scans reach them. Const methods are
// safe to call from several threads at once.
class Table {
 public:
  // Throws DataLoss naming `file_name`.
  Table(std::string_view file, std::string file_name);

  const std::string& file_name() const { return file_name_; }

  // Calls visit(key, value) for every entry, in key order, checking every
  // data block's checksum and that keys strictly increase (bytewise).
  void scan(const TableVisitor& visit) const;

  // Finds `key`. On success *value views bytes inside *holder (keep it while
  // using the value). Returns false when the key is absent.
  bool get(std::string_view key, BlockContents* holder, std::string_view* value) const;

  // Reads every data block (checksums and entry structure) without visiting.
  void check_all_blocks() const;

 private:
  struct IndexEntry {
    std::string last_key;  // >= every key of the block, < the next block's keys
    BlockHandle handle;
  };

  std::string_view file_;
  std::string file_name_;
  std::vector<IndexEntry> blocks_;
};

// Table(file, file_name).scan(visit): the whole table in one pass.
void scan_table(std::string_view file, const std::string& file_name, const TableVisitor& visit);

}  // namespace tfbundle
