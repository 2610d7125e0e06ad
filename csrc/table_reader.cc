#include "table_reader.h"

#include "block.h"
#include "coding.h"
#include "errors.h"

namespace tfbundle {

void scan_table(std::string_view file, const std::string& file_name,
                const std::function<void(std::string_view key, std::string_view value)>& visit) {
  if (file.size() < kFooterSize) {
    throw DataLoss(file_name + ": file is too short (" + std::to_string(file.size()) +
                   " bytes) to be an sstable; the index is truncated or not a TensorFlow checkpoint index");
  }
  std::string_view footer = file.substr(file.size() - kFooterSize);
  const uint64_t magic = load_fixed64(footer.data() + 40);
  if (magic != kTableMagic) throw DataLoss(file_name + ": not an sstable (bad magic number)");
  BlockHandle metaindex, index;
  if (!get_block_handle(&footer, &metaindex) || !get_block_handle(&footer, &index)) {
    throw DataLoss(file_name + ": bad block handle in the footer");
  }
  const std::string_view index_contents = read_block(file, index, file_name);
  read_block(file, metaindex, file_name);  // unused, but its checksum must hold

  // BlockIterator checks the order inside a block; here, across blocks.
  std::string last_key_of_previous_block;
  bool first_block = true;
  BlockIterator index_entries(index_contents, file_name);
  while (index_entries.next()) {
    std::string_view handle_bytes = index_entries.value();
    BlockHandle data_handle;
    if (!get_block_handle(&handle_bytes, &data_handle)) {
      throw DataLoss(file_name + ": bad block handle in the index block");
    }
    BlockIterator entries(read_block(file, data_handle, file_name), file_name);
    bool first_in_block = true;
    while (entries.next()) {
      if (first_in_block && !first_block && entries.key() <= std::string_view(last_key_of_previous_block)) {
        throw DataLoss(file_name + ": keys are not in strictly increasing order");
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

}  // namespace tfbundle
