#include "table_reader.h"

#include <algorithm>

#include "coding.h"
#include "errors.h"

namespace tfbundle {

Table::Table(std::string_view file, std::string file_name) : file_(file), file_name_(std::move(file_name)) {
  if (file.size() < kFooterSize) {
    throw DataLoss(file_name_ + ": file is too short (" + std::to_string(file.size()) +
                   " bytes) to be an sstable; it is truncated or not a TensorFlow table");
  }
  std::string_view footer = file.substr(file.size() - kFooterSize);
  const uint64_t magic = load_fixed64(footer.data() + 40);
  if (magic != kTableMagic) throw DataLoss(file_name_ + ": not an sstable (bad magic number)");
  BlockHandle metaindex, index;
  if (!get_block_handle(&footer, &metaindex) || !get_block_handle(&footer, &index)) {
    throw DataLoss(file_name_ + ": bad block handle in the footer");
  }
  const BlockContents index_contents = read_block(file, index, file_name_);
  read_block(file, metaindex, file_name_);  // unused, but its checksum must hold

  BlockIterator entries(index_contents.data, file_name_);
  while (entries.next()) {
    std::string_view handle_bytes = entries.value();
    BlockHandle handle;
    if (!get_block_handle(&handle_bytes, &handle)) {
      throw DataLoss(file_name_ + ": bad block handle in the index block");
    }
    // A handle must at least fit in the file; read_block checks it exactly.
    if (handle.offset > file.size() || handle.size > file.size()) {
      throw DataLoss(file_name_ + ": index block names a block outside the file");
    }
    blocks_.push_back(IndexEntry{std::string(entries.key()), handle});
  }
}

void Table::scan(const TableVisitor& visit) const {
  // BlockIterator checks the order inside a block; here, across blocks.
  std::string last_key_of_previous_block;
  bool first_block = true;
  for (const IndexEntry& block : blocks_) {
    const BlockContents contents = read_block(file_, block.handle, file_name_);
    BlockIterator entries(contents.data, file_name_);
    bool first_in_block = true;
    while (entries.next()) {
      if (first_in_block && !first_block && entries.key() <= std::string_view(last_key_of_previous_block)) {
        throw DataLoss(file_name_ + ": keys are not in strictly increasing order");
      }
      first_in_block = false;
      visit(entries.key(), entries.value());
    }
    if (!first_in_block) {
      last_key_of_previous_block.assign(entries.key());
      first_block = false;
    }
  }
}

bool Table::get(std::string_view key, BlockContents* holder, std::string_view* value) const {
  // The first block whose last key is >= key is the only one that can hold it.
  auto it = std::lower_bound(blocks_.begin(), blocks_.end(), key,
                             [](const IndexEntry& e, std::string_view k) { return std::string_view(e.last_key) < k; });
  if (it == blocks_.end()) return false;
  *holder = read_block(file_, it->handle, file_name_);
  BlockIterator entries(holder->data, file_name_);
  while (entries.next()) {
    if (entries.key() == key) {
      *value = entries.value();
      return true;
    }
    if (entries.key() > key) return false;
  }
  return false;
}

void Table::check_all_blocks() const {
  scan([](std::string_view, std::string_view) {});
}

void scan_table(std::string_view file, const std::string& file_name, const TableVisitor& visit) {
  Table(file, file_name).scan(visit);
}

}  // namespace tfbundle
