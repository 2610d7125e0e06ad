// libFuzzer target: string and variant tensor payloads. The first byte
// picks string/variant and byte order, the next two the element count.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "errors.h"
#include "tensor_strings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool variant = data[0] & 1;
  const bool big_endian = data[0] & 2;
  const int64_t n = static_cast<int64_t>(data[1]) | (static_cast<int64_t>(data[2]) << 8);
  std::string_view payload(reinterpret_cast<const char*>(data + 3), size - 3);
  try {
    if (variant) {
      tfbundle::decode_variants(payload, n);
    } else {
      tfbundle::decode_strings(payload, n, big_endian, true);
    }
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
