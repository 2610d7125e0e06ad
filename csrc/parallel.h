// Splitting one large copy across the machine's cores. Faulting in fresh
// destination pages and checksumming both scale with cores, so a large
// tensor read is cut into contiguous parts, run on the thread pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

#include "thread_pool.h"

namespace tfbundle {

// The threads one read or write may use (see pool_threads).
inline unsigned hardware_threads() {
  return static_cast<unsigned>(pool_threads());
}

// How many parts to cut an n-byte job into: 1 below min_bytes per part, at
// most max_parts, at most the threads one job may use.
inline int parts_for(size_t n, size_t min_bytes_per_part, int max_parts) {
  if (n < 2 * min_bytes_per_part) return 1;  // the common small case: no thread to consider
  const unsigned hw = hardware_threads();
  const size_t by_size = std::max<size_t>(1, n / min_bytes_per_part);
  return static_cast<int>(std::min<size_t>({by_size, static_cast<size_t>(max_parts), hw}));
}

// Calls fn(begin, end, index) for `parts` contiguous pieces of [0, n) whose
// boundaries are multiples of `align`, on the thread pool (the calling
// thread takes part). The first exception thrown by any piece is rethrown
// after all have ended.
template <typename Fn>
void run_in_parts(size_t n, int parts, size_t align, Fn fn) {
  if (parts <= 1) {
    fn(size_t{0}, n, 0);
    return;
  }
  std::vector<size_t> bounds(static_cast<size_t>(parts) + 1, n);
  bounds[0] = 0;
  for (int i = 1; i < parts; i++) {
    const size_t cut = n / static_cast<size_t>(parts) * static_cast<size_t>(i);
    bounds[static_cast<size_t>(i)] = std::min(n, cut / align * align);
  }
  parallel_for(parts, [&](int i) { fn(bounds[static_cast<size_t>(i)], bounds[static_cast<size_t>(i) + 1], i); });
}

}  // namespace tfbundle
