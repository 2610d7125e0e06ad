#include "graph_scan.h"

#include "errors.h"
#include "proto_wire.h"

namespace tfbundle {

GraphScanner::GraphScanner(const std::string& path, const std::vector<uint32_t>& path_to_graph)
    : path_(path), file_(MappedFile::open(path)) {
  std::string_view bytes;
  if (file_->mapped()) {
    bytes = file_->bytes();
  } else {
    auto copy = std::make_shared<std::string>(static_cast<size_t>(file_->size()), '\0');
    file_->read(0, copy->size(), copy->data());
    copy_ = copy;
    bytes = *copy_;
  }
  locate_graph(bytes, path_to_graph);
}

GraphScanner GraphScanner::from_bytes(std::string bytes, const std::vector<uint32_t>& path_to_graph) {
  GraphScanner scanner;
  scanner.path_ = "<memory>";
  scanner.copy_ = std::make_shared<const std::string>(std::move(bytes));
  scanner.locate_graph(*scanner.copy_, path_to_graph);
  return scanner;
}

void GraphScanner::locate_graph(std::string_view bytes, const std::vector<uint32_t>& path_to_graph) {
  try {
    for (uint32_t number : path_to_graph) {  // descend to the GraphDef
      wire::Cursor cursor(bytes, "message");
      wire::Field f;
      bool found = false;
      while (cursor.next(&f)) {
        if (f.number() == number && f.type() == wire::kLengthDelimited) {
          bytes = f.bytes;
          found = true;
          break;
        }
      }
      if (!found) throw DataLoss("no GraphDef at the expected field");
    }
  } catch (const DataLoss& e) {
    throw DataLoss(path_ + ": " + e.what());
  }
  graph_ = bytes;
  rest_ = bytes;
}

namespace {

void parse_node(std::string_view bytes, GraphNode* node) {
  *node = GraphNode();
  wire::Cursor cursor(bytes, "NodeDef");
  wire::Field f;
  while (cursor.next(&f)) {
    if (f.type() != wire::kLengthDelimited) continue;
    switch (f.number()) {
      case 1:
        node->name = f.bytes;
        break;
      case 2:
        node->op = f.bytes;
        break;
      case 3:
        node->inputs.push_back(f.bytes);
        break;
      case 4:
        node->device = f.bytes;
        break;
      case 5: {
        std::string_view key, value;
        wire::Cursor entry(f.bytes, "NodeDef.AttrEntry");
        wire::Field e;
        while (entry.next(&e)) {
          if (e.number() == 1 && e.type() == wire::kLengthDelimited) key = e.bytes;
          if (e.number() == 2 && e.type() == wire::kLengthDelimited) value = e.bytes;
        }
        if (key == "value" || key == "dtype") {
          wire::Cursor attr(value, "AttrValue");
          wire::Field a;
          while (attr.next(&a)) {
            if (key == "value" && a.number() == 8 && a.type() == wire::kLengthDelimited) node->value_tensor = a.bytes;
            if (key == "dtype" && a.number() == 6 && a.type() == wire::kVarint)
              node->dtype_attr = static_cast<int32_t>(a.value);
          }
        }
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

bool GraphScanner::next(GraphNode* node) {
  wire::Field f;
  try {
    for (;;) {
      if (!function_rest_.empty()) {  // inside a FunctionDef: node_def = 3
        wire::Cursor cursor(function_rest_, "FunctionDef");
        while (cursor.next(&f)) {
          if (f.number() == 3 && f.type() == wire::kLengthDelimited) {
            function_rest_ = cursor.rest();
            parse_node(f.bytes, node);
            node->function = function_name_;
            return true;
          }
        }
        function_rest_ = std::string_view();
      }
      if (!functions_.empty()) {  // start the next library function
        const std::string_view function = functions_.back();
        functions_.pop_back();
        function_name_ = std::string_view();
        wire::Cursor cursor(function, "FunctionDef");
        while (cursor.next(&f)) {
          if (f.number() == 1 && f.type() == wire::kLengthDelimited) {  // signature: OpDef, name = 1
            wire::Cursor signature(f.bytes, "OpDef");
            wire::Field s;
            while (signature.next(&s)) {
              if (s.number() == 1 && s.type() == wire::kLengthDelimited) function_name_ = s.bytes;
            }
          }
        }
        function_rest_ = function;
        continue;
      }
      wire::Cursor cursor(rest_, "GraphDef");
      if (!cursor.next(&f)) return false;
      rest_ = cursor.rest();
      if (f.number() == 1 && f.type() == wire::kLengthDelimited) {
        parse_node(f.bytes, node);
        return true;
      }
      if (f.number() == 2 && f.type() == wire::kLengthDelimited) {  // FunctionDefLibrary: function = 1
        wire::Cursor library(f.bytes, "FunctionDefLibrary");
        std::vector<std::string_view> found;
        while (library.next(&f)) {
          if (f.number() == 1 && f.type() == wire::kLengthDelimited) found.push_back(f.bytes);
        }
        functions_.insert(functions_.end(), found.rbegin(), found.rend());  // popped from the back, in order
      }
    }
  } catch (const DataLoss& e) {
    throw DataLoss(path_ + ": " + e.what());
  }
}

}  // namespace tfbundle
