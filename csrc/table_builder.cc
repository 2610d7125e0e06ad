#include "table_builder.h"

#include <algorithm>

#include "coding.h"
#include "crc32c.h"
#include "table_reader.h"

namespace tfbundle {

namespace {

// Shortens *start to a key k with start <= k < limit when one byte suffices.
void shorten_to_separator(std::string* start, std::string_view limit) {
  const size_t common_max = std::min(start->size(), limit.size());
  size_t i = 0;
  while (i < common_max && (*start)[i] == limit[i]) i++;
  if (i >= common_max) return;  // one is a prefix of the other
  const uint8_t byte = static_cast<uint8_t>((*start)[i]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[i])) {
    (*start)[i] = static_cast<char>(byte + 1);
    start->resize(i + 1);
  }
}

// Shortens *key to a short key >= it: increments the first byte below 0xff.
void shorten_to_successor(std::string* key) {
  for (size_t i = 0; i < key->size(); i++) {
    const uint8_t byte = static_cast<uint8_t>((*key)[i]);
    if (byte != 0xff) {
      (*key)[i] = static_cast<char>(byte + 1);
      key->resize(i + 1);
      return;
    }
  }
}

}  // namespace

void BlockBuilder::reset() {
  buffer_.clear();
  restarts_.assign(1, 0);
  counter_ = 0;
  last_key_.clear();
}

void BlockBuilder::add(std::string_view key, std::string_view value) {
  size_t shared = 0;
  if (counter_ < restart_interval_) {
    const size_t max_shared = std::min(last_key_.size(), key.size());
    while (shared < max_shared && last_key_[shared] == key[shared]) shared++;
  } else {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    counter_ = 0;
  }
  const size_t unshared = key.size() - shared;
  put_varint64(&buffer_, shared);
  put_varint64(&buffer_, unshared);
  put_varint64(&buffer_, value.size());
  buffer_.append(key.data() + shared, unshared);
  buffer_.append(value.data(), value.size());
  last_key_.assign(key.data(), key.size());
  counter_++;
}

std::string_view BlockBuilder::finish() {
  for (uint32_t r : restarts_) put_fixed32(&buffer_, r);
  put_fixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
  return buffer_;
}

BlockHandle TableBuilder::write_block(BlockBuilder* block) {
  const std::string_view contents = block->finish();
  BlockHandle handle{out_.size(), contents.size()};
  out_.append(contents.data(), contents.size());
  const char type = 0;  // no compression
  out_.push_back(type);
  put_fixed32(&out_, crc32c::mask(crc32c::extend(crc32c::value(contents.data(), contents.size()), &type, 1)));
  block->reset();
  return handle;
}

void TableBuilder::flush() {
  if (data_block_.empty()) return;
  pending_handle_ = write_block(&data_block_);
  pending_index_entry_ = true;
}

void TableBuilder::add(std::string_view key, std::string_view value) {
  // An entry at least twice the block size starts a block of its own.
  if (num_entries_ > 0 && key.size() + value.size() >= 2 * kBlockSize) flush();
  if (pending_index_entry_) {
    shorten_to_separator(&last_key_, key);
    std::string handle;
    put_block_handle(&handle, pending_handle_);
    index_block_.add(last_key_, handle);
    pending_index_entry_ = false;
  }
  last_key_.assign(key.data(), key.size());
  num_entries_++;
  data_block_.add(key, value);
  if (data_block_.size_estimate() >= kBlockSize) flush();
}

std::string TableBuilder::finish() {
  flush();
  BlockBuilder metaindex(16);
  const BlockHandle metaindex_handle = write_block(&metaindex);
  if (pending_index_entry_) {
    shorten_to_successor(&last_key_);
    std::string handle;
    put_block_handle(&handle, pending_handle_);
    index_block_.add(last_key_, handle);
    pending_index_entry_ = false;
  }
  const BlockHandle index_handle = write_block(&index_block_);
  std::string footer;
  put_block_handle(&footer, metaindex_handle);
  put_block_handle(&footer, index_handle);
  footer.resize(40, '\0');
  put_fixed64(&footer, kTableMagic);
  out_.append(footer);
  return std::move(out_);
}

}  // namespace tfbundle
