// libFuzzer target: slice-key decoding; whatever decodes must re-encode to
// exactly the input (the keys are canonical).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "errors.h"
#include "slice_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view key(reinterpret_cast<const char*>(data), size);
  std::string name;
  tfbundle::SliceExtents slice;
  try {
    tfbundle::decode_slice_key(key, &name, &slice);
  } catch (const tfbundle::DataLoss&) {
    return 0;
  }
  if (tfbundle::encode_slice_key(name, slice) != key) std::abort();
  return 0;
}
