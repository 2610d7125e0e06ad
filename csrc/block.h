// LevelDB-style blocks as used by TensorFlow's `.index` table:
//   contents = entries, restarts: fixed32[k], k: fixed32
//   on disk  = contents, type: 1 byte, mask(crc32c(contents ‖ type)): fixed32
// An entry is varint32 shared, varint32 unshared, varint32 value_len,
// key suffix[unshared], value[value_len]; its key is the first `shared`
// bytes of the previous key followed by the suffix.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tfbundle {

constexpr size_t kBlockTrailerSize = 5;

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;  // excludes the 5-byte trailer
};

// Consumes a handle (two varint64) from *in; false if it is truncated.
bool get_block_handle(std::string_view* in, BlockHandle* handle);
void put_block_handle(std::string* out, const BlockHandle& handle);

// A block's contents (entries and restarts): a view into the file for an
// uncompressed block, or into `decompressed`, which it shares ownership of,
// for a Snappy one. Copies stay valid as long as any copy lives.
struct BlockContents {
  std::string_view data;
  std::shared_ptr<const std::string> decompressed;
};

// Returns the contents of the block at `handle` inside `file`, after checking
// that it lies inside the file and its checksum (over the stored bytes and
// the type byte), then decompressing a Snappy block (type 1). Throws
// DataLoss naming `file_name` and the block's offset otherwise.
BlockContents read_block(std::string_view file, const BlockHandle& handle, const std::string& file_name);

// Walks a block's entries in order. Throws DataLoss on a malformed entry or
// when a key is not greater than the one before it in the block.
class BlockIterator {
 public:
  BlockIterator(std::string_view contents, const std::string& file_name);
  // Advances to the next entry; false at the end.
  bool next();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  [[noreturn]] void fail(const char* problem) const;

  std::string_view entries_;  // the entries region, consumed as we go
  const std::string& file_name_;
  std::string key_;
  std::string_view value_;
  bool first_ = true;
};

}  // namespace tfbundle
