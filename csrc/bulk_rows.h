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
#include <utility>
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

// Reads checkpoint prefixes[r] into row r for every r, in order; returns
// (row, message) of the rows that could not be read (see read_stack_row).
// Fresh destinations are populated 512 KiB of rows at a time ahead of the
// reads (fresh_pages.h) rather than a page fault at a time inside each
// row's preadv. Faulting in fresh memory is a third of a zoo row's time on
// this VM (stacking 10 000 rows into a new 200 MB array: 30-46 us a row,
// against 24-30 into a recycled one); populating saved little of it (35-45
// us a row without), so most of that cost is the kernel's, not the faults'.
std::vector<std::pair<size_t, std::string>> read_stack_rows(const std::vector<std::string>& prefixes,
                                                            const std::vector<StackColumn>& columns, bool verify);

}  // namespace tfbundle
