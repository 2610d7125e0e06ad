// libFuzzer target: arbitrary bytes as a .tflite model, parsed as
// tfbundle.tflite.open does (every offset, length, index and buffer range
// checked); then every buffer range is touched, as a view would be.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "errors.h"
#include "tflite_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  try {
    const tfbundle::TfliteModel model = tfbundle::parse_tflite(file, "<fuzz>");
    volatile uint8_t sink = 0;
    for (const auto& b : model.buffers) {
      if (b.size > 0) sink = sink + static_cast<uint8_t>(file[b.offset] ^ file[b.offset + b.size - 1]);
    }
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
