// libFuzzer target: BundleEntryProto and BundleHeaderProto decoding, and
// the round trip of what decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bundle_entry.h"
#include "errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    tfbundle::BundleEntry e = tfbundle::decode_entry(bytes);
    e.num_elements();
    // What we encode must decode to the same entry.
    tfbundle::BundleEntry again = tfbundle::decode_entry(tfbundle::encode_entry(e));
    if (again.dtype != e.dtype || again.shape != e.shape || again.offset != e.offset || again.size != e.size ||
        again.shard_id != e.shard_id || again.slices.size() != e.slices.size()) {
      std::abort();
    }
  } catch (const tfbundle::DataLoss&) {
  }
  try {
    tfbundle::decode_header(bytes);
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
