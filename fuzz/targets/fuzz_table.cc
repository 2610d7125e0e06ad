// libFuzzer target: an arbitrary .index file, parsed as BundleReader does
// (table, header, every entry, slice keys of partitioned entries).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bundle_entry.h"
#include "errors.h"
#include "slice_key.h"
#include "table_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  try {
    bool first = true;
    tfbundle::scan_table(file, "<fuzz>", [&](std::string_view key, std::string_view value) {
      if (first) {
        tfbundle::check_header_versions(tfbundle::decode_header(value), "<fuzz>");
        first = false;
        return;
      }
      tfbundle::BundleEntry e = tfbundle::decode_entry(value);
      for (const auto& slice : e.slices) tfbundle::encode_slice_key(key, slice);
    });
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
