#include "fresh_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace tfbundle {

size_t page_bytes() {
  static const size_t size = [] {
    const long s = ::sysconf(_SC_PAGESIZE);
    return s > 0 ? static_cast<size_t>(s) : size_t{4096};
  }();
  return size;
}

namespace {

// Cleared the first time the kernel says it does not know the advice.
std::atomic<bool> populate_supported{true};

}  // namespace

void populate_if_untouched(void* dst, size_t n) {
#ifdef MADV_POPULATE_WRITE
  if (n == 0 || !populate_supported.load(std::memory_order_relaxed)) return;
  const uintptr_t page = page_bytes();
  // Whole pages covering the range: the first and last may hold other data
  // of the same mapping, which populating does not change.
  const uintptr_t first = reinterpret_cast<uintptr_t>(dst) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(dst) + n + page - 1) & ~(page - 1);
  unsigned char resident = 0;
  void* start = static_cast<char*>(dst) - (reinterpret_cast<uintptr_t>(dst) - first);  // keeps dst's provenance
  if (::mincore(start, page, &resident) != 0 || (resident & 1) != 0) return;
  if (::madvise(start, end - first, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
    populate_supported.store(false, std::memory_order_relaxed);
  }
#else
  (void)dst;
  (void)n;
#endif
}

}  // namespace tfbundle
