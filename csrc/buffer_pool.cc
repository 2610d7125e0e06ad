#include "buffer_pool.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace tfbundle {

namespace {

constexpr size_t kHuge = 2 << 20;

size_t cache_limit() {
  static const size_t limit = [] {
    const char* v = std::getenv("TFBUNDLE_BUFFER_CACHE_MB");
    return static_cast<size_t>(v != nullptr ? std::strtoull(v, nullptr, 10) : 1024) << 20;
  }();
  return limit;
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, Buffer> free;  // by region size
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: buffers may be released at exit
  return *c;
}

}  // namespace

Buffer acquire_buffer(size_t n) {
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    // The smallest cached region that fits, if it wastes at most half of itself.
    auto it = c.free.lower_bound(n + kHuge);
    if (it != c.free.end() && it->first <= 2 * (n + kHuge)) {
      Buffer b = it->second;
      c.bytes -= b.region_size;
      c.free.erase(it);
      return b;
    }
  }
  const size_t size = n + kHuge;
  void* region = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(region) + kHuge - 1) & ~(uintptr_t{kHuge} - 1);
#ifdef MADV_HUGEPAGE
  ::madvise(reinterpret_cast<void*>(aligned), n, MADV_HUGEPAGE);
#endif
  return Buffer{reinterpret_cast<void*>(aligned), region, size};
}

void release_buffer(const Buffer& buffer) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + buffer.region_size <= cache_limit()) {
#ifdef MADV_FREE
      ::madvise(buffer.region, buffer.region_size, MADV_FREE);
#endif
      c.free.emplace(buffer.region_size, buffer);
      c.bytes += buffer.region_size;
      return;
    }
  }
  ::munmap(buffer.region, buffer.region_size);
}

}  // namespace tfbundle
