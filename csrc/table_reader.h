// Reads the sorted LevelDB-style table of a `.index` file:
//   [data block]* [metaindex block] [index block] [footer: 48 bytes]
// The footer holds the metaindex and index handles, zero padding to 40 bytes
// and the magic number. Each index entry's value is the handle of one data
// block. TensorFlow never reads the metaindex, and neither do we.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace tfbundle {

constexpr size_t kFooterSize = 48;
constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;

// Calls visit(key, value) for every entry, in file order, after checking the
// footer, every block checksum, and that keys strictly increase (bytewise).
// `file` holds the whole file. Throws DataLoss naming `file_name`.
void scan_table(std::string_view file, const std::string& file_name,
                const std::function<void(std::string_view key, std::string_view value)>& visit);

}  // namespace tfbundle
