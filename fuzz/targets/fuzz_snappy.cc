// libFuzzer target: arbitrary bytes as a raw Snappy stream (a table block's
// contents), decompressed as read_block does.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "errors.h"
#include "snappy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  try {
    tfbundle::snappy::decompress(stream, "<fuzz>: ");
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
