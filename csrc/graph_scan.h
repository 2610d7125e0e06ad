// Streams the nodes of a serialized GraphDef out of a memory-mapped file
// without materializing the message, so files over protobuf's 2 GiB limit
// work and tensor bytes are never copied unless asked for.
//
// GraphDef: node=1 (NodeDef), library=2 (FunctionDefLibrary: function=1,
// FunctionDef: node_def=3). NodeDef: name=1, op=2, input=3, device=4,
// attr=5 (map entries key=1, value=2 AttrValue). A Const node keeps its
// tensor in attr "value" (AttrValue.tensor=8, a TensorProto).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mapped_file.h"
#include "tensor_proto.h"

namespace tfbundle {

struct GraphNode {
  std::string_view name, op, device, function;  // function: "" for top-level nodes
  std::vector<std::string_view> inputs;
  std::string_view value_tensor;  // the "value" attr's TensorProto bytes, if any
  int32_t dtype_attr = 0;         // the "dtype" attr, if any
};

// Walks nodes in file order: the graph's, then each library function's.
class GraphScanner {
 public:
  // `path_to_graph` lists the field numbers leading from the file's top
  // message to the GraphDef: {} for a GraphDef file, {2} for a MetaGraphDef
  // (.meta), {2, 2} for the first MetaGraph of a SavedModel.
  GraphScanner(const std::string& path, const std::vector<uint32_t>& path_to_graph);
  // Scans bytes held in memory (copied); for tests and fuzzing.
  static GraphScanner from_bytes(std::string bytes, const std::vector<uint32_t>& path_to_graph);
  // Advances to the next node; false at the end. Throws DataLoss.
  bool next(GraphNode* node);
  std::shared_ptr<MappedFile> file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  GraphScanner() = default;
  void locate_graph(std::string_view bytes, const std::vector<uint32_t>& path_to_graph);

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  // The bytes when they are not mapped; on the heap so that the views below
  // stay valid when the scanner is moved.
  std::shared_ptr<const std::string> copy_;
  std::string_view graph_;                   // the GraphDef's bytes
  std::string_view rest_;                    // unread part of graph_
  std::vector<std::string_view> functions_;  // pending FunctionDef bytes
  std::string_view function_rest_;           // unread part of the current FunctionDef
  std::string_view function_name_;
};

}  // namespace tfbundle
