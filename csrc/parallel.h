// Splitting one large copy across the machine's cores. Faulting in fresh
// destination pages and checksumming both scale with cores, so a large
// tensor read is cut into contiguous parts, one per thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace tfbundle {

// How many parts to cut an n-byte job into: 1 below min_bytes per part, at
// most max_parts, at most the hardware threads.
// The hardware threads, asked once: glibc reads /sys/devices/system/cpu on
// every call, which cost ~10 us per tensor read of a small checkpoint.
inline unsigned hardware_threads() {
  static const unsigned n = std::max(1u, std::thread::hardware_concurrency());
  return n;
}

inline int parts_for(size_t n, size_t min_bytes_per_part, int max_parts) {
  if (n < 2 * min_bytes_per_part) return 1;  // the common small case: no thread to consider
  const unsigned hw = hardware_threads();
  const size_t by_size = std::max<size_t>(1, n / min_bytes_per_part);
  return static_cast<int>(std::min<size_t>({by_size, static_cast<size_t>(max_parts), hw}));
}

// Calls fn(begin, end, index) for `parts` contiguous pieces of [0, n) whose
// boundaries are multiples of `align`; piece 0 runs on the calling thread.
// The first exception thrown by any piece is rethrown after all have ended.
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
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parts));
  std::vector<std::thread> threads;
  for (int i = 1; i < parts; i++) {
    threads.emplace_back([&, i] {
      try {
        fn(bounds[static_cast<size_t>(i)], bounds[static_cast<size_t>(i) + 1], i);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    });
  }
  try {
    fn(bounds[0], bounds[1], 0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace tfbundle
