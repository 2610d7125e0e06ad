// Summary statistics of a numeric tensor, accumulated chunk by chunk so that
// they can be computed while a payload is read (each chunk still in cache
// after its checksum) without holding the tensor in memory.
//
// Values are taken as doubles; NaN and +-inf are counted and left out of
// everything else. Within a chunk the mean and the sum of squared
// deviations (m2) come from two passes over the cached chunk; chunks are
// joined with Chan et al.'s pairwise update, so the variance does not
// suffer the cancellation of sum(x^2) - n * mean^2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace tfbundle {

// The chunk size statistics are taken in: reads and arrays use the same, so
// they give bit-identical results. A multiple of every element size.
constexpr size_t kStatsChunk = size_t{512} * 1024;

struct TensorStats {
  uint64_t count = 0;  // finite values
  uint64_t nan = 0;
  uint64_t inf = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double mean = 0;
  double m2 = 0;     // sum of squared deviations from the mean
  double sumsq = 0;  // sum of squares (the L2 norm's square)
};

// True for the dtypes accumulate() understands: floating (half, bfloat16,
// float, double), integer (8 to 64 bits, signed and unsigned) and bool.
bool stats_supported(int32_t dtype);

// Adds `n` bytes of little-endian elements of `dtype` to *s. REQUIRES:
// stats_supported(dtype) and n a multiple of the element size.
void accumulate(TensorStats* s, const void* data, size_t n, int32_t dtype);

}  // namespace tfbundle
