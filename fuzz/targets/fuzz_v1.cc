// libFuzzer target: an arbitrary V1 checkpoint file (a table, possibly with
// Snappy blocks, of SavedTensorSlices), opened and read whole as the
// Python reader does: every entry's values decoded, every block verified.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dtypes.h"
#include "errors.h"
#include "v1_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const tfbundle::V1Reader r = tfbundle::V1Reader::from_bytes(std::string(reinterpret_cast<const char*>(data), size));
    for (size_t i = 0; i < r.num_entries(); i++) {
      try {
        if (r.partitioned(i)) continue;
        const tfbundle::V1SliceValue v = r.value(i);
        if (r.dtype(i) == tfbundle::kString) {
          r.decode_strings(v);
        } else {
          std::vector<char> out(static_cast<size_t>(v.slice->num_elements) *
                                static_cast<size_t>(tfbundle::element_size(r.dtype(i))));
          r.decode_into(v, out.data(), out.size());
        }
      } catch (const tfbundle::DataLoss&) {
      }
    }
    r.verify_files();
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
