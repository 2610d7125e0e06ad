// Stacking the same tensors of many small checkpoints into rows of arrays
// (model zoos: thousands of checkpoints of a few kilobytes each). Opening
// each checkpoint as a BundleReader costs two mmaps, two munmaps and a
// Python round trip per tensor: several times the reading itself. Here one
// call reads a whole batch of checkpoints with the GIL released: each index
// is read whole with one pread, the stacked payloads of each data file with
// one preadv straight into their rows, and every payload is checked
// (length, dtype, shape, checksum) by the same code as any read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tfbundle {

// One stacked tensor: where row r of it goes.
struct StackColumn {
  std::string key;
  int32_t dtype = 0;
  std::vector<int64_t> shape;
  char* base = nullptr;   // row 0's destination
  size_t row_stride = 0;  // bytes between rows' destinations
  size_t nbytes = 0;      // the tensor's size: every row's payload must have it
};

// Reads every column of checkpoint `prefix` into row `row` of the columns'
// destinations. Throws (DataLoss, NotFound, FileMissing, IoError,
// InvalidArgument) when the checkpoint cannot be read or a tensor differs
// from its column; the row's destinations may then hold partial data.
void read_stack_row(const std::string& prefix, const std::vector<StackColumn>& columns, size_t row, bool verify);

}  // namespace tfbundle
