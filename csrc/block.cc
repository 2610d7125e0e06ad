#include "block.h"

#include "coding.h"
#include "crc32c.h"
#include "errors.h"
#include "snappy.h"

namespace tfbundle {

bool get_block_handle(std::string_view* in, BlockHandle* handle) {
  return get_varint64(in, &handle->offset) && get_varint64(in, &handle->size);
}

void put_block_handle(std::string* out, const BlockHandle& handle) {
  put_varint64(out, handle.offset);
  put_varint64(out, handle.size);
}

BlockContents read_block(std::string_view file, const BlockHandle& handle, const std::string& file_name) {
  const uint64_t end = handle.offset + handle.size;
  if (end < handle.offset || end + kBlockTrailerSize < end || end + kBlockTrailerSize > file.size()) {
    throw DataLoss(file_name + ": truncated block read (block at offset " + std::to_string(handle.offset) + " of " +
                   std::to_string(handle.size) + " bytes runs past the end of the " + std::to_string(file.size()) +
                   "-byte file)");
  }
  const char* data = file.data() + handle.offset;
  const size_t n = static_cast<size_t>(handle.size);
  const uint32_t expected = crc32c::unmask(load_fixed32(data + n + 1));
  const uint32_t actual = crc32c::extend(crc32c::value(data, n), data + n, 1);
  if (actual != expected) {
    throw DataLoss(file_name + ": block checksum mismatch (block at offset " + std::to_string(handle.offset) + ")");
  }
  switch (data[n]) {
    case 0:
      return BlockContents{std::string_view(data, n), nullptr};
    case 1: {
      const std::string what = file_name + ": block at offset " + std::to_string(handle.offset) + ": ";
      auto decompressed = std::make_shared<const std::string>(snappy::decompress(std::string_view(data, n), what));
      const std::string_view contents(*decompressed);
      return BlockContents{contents, std::move(decompressed)};
    }
    default:
      throw DataLoss(file_name + ": bad block type " + std::to_string(static_cast<uint8_t>(data[n])) +
                     " (block at offset " + std::to_string(handle.offset) + ")");
  }
}

BlockIterator::BlockIterator(std::string_view contents, const std::string& file_name) : file_name_(file_name) {
  if (contents.size() < 4) fail("block is shorter than its restart count");
  const uint32_t num_restarts = load_fixed32(contents.data() + contents.size() - 4);
  const size_t max_restarts = (contents.size() - 4) / 4;
  if (num_restarts > max_restarts) fail("restart count does not fit in the block");
  entries_ = contents.substr(0, contents.size() - 4 - 4 * static_cast<size_t>(num_restarts));
}

void BlockIterator::fail(const char* problem) const {
  throw DataLoss(file_name_ + ": bad entry in block: " + problem);
}

bool BlockIterator::next() {
  if (entries_.empty()) return false;
  uint32_t shared, unshared, value_length;
  if (!get_varint32(&entries_, &shared) || !get_varint32(&entries_, &unshared) ||
      !get_varint32(&entries_, &value_length)) {
    fail("truncated entry header");
  }
  if (shared > key_.size()) fail("shared key prefix is longer than the previous key");
  if (static_cast<uint64_t>(unshared) + value_length > entries_.size()) fail("entry runs past the block");
  const std::string_view suffix = entries_.substr(0, unshared);
  // The new key shares key_[0, shared): it is greater iff its suffix is
  // greater than the rest of key_ (the block's first key has nothing before).
  if (!first_ && suffix <= std::string_view(key_).substr(shared)) fail("keys are not in strictly increasing order");
  first_ = false;
  key_.resize(shared);
  key_.append(suffix.data(), suffix.size());
  value_ = entries_.substr(unshared, value_length);
  entries_.remove_prefix(static_cast<size_t>(unshared) + value_length);
  return true;
}

}  // namespace tfbundle
