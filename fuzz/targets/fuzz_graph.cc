// libFuzzer target: the GraphDef scanner and TensorProto decoding over an
// arbitrary frozen graph.
#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"
#include "graph_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto scanner = tfbundle::GraphScanner::from_bytes(std::string(reinterpret_cast<const char*>(data), size), {});
    tfbundle::GraphNode node;
    for (int i = 0; i < 10000 && scanner.next(&node); i++) {
      if (node.value_tensor.empty()) continue;
      try {
        tfbundle::decode_tensor_proto(node.value_tensor);
      } catch (const tfbundle::DataLoss&) {
      }
    }
  } catch (const tfbundle::DataLoss&) {
  }
  return 0;
}
