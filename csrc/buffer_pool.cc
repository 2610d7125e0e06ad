#include "buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <new>

namespace tfbundle {

namespace {

constexpr size_t kHuge = 2 << 20;
constexpr size_t kPage = 4096;

size_t cache_limit() {
  static const size_t limit = [] {
    if (const char* v = std::getenv("TFBUNDLE_BUFFER_CACHE_MB"))
      return static_cast<size_t>(std::strtoull(v, nullptr, 10)) << 20;
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    const size_t physical =
        pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page_size) : 0;
    return std::min(physical / 4, size_t{4} << 30);
  }();
  return limit;
}

// Cached buffers, findable by size and ordered by release (front: oldest).
struct Cache {
  std::mutex mu;
  std::list<Buffer> by_age;
  std::multimap<size_t, std::list<Buffer>::iterator> by_size;  // region size -> entry
  size_t bytes = 0;

  void erase(std::multimap<size_t, std::list<Buffer>::iterator>::iterator it) {
    bytes -= it->first;
    by_age.erase(it->second);
    by_size.erase(it);
  }
  // Removes the oldest buffer (the cache must not be empty) and returns it.
  Buffer pop_oldest() {
    const Buffer b = by_age.front();
    auto range = by_size.equal_range(b.region_size);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == by_age.begin()) {
        erase(it);
        break;
      }
    }
    return b;
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: buffers may be released at exit
  return *c;
}

// Whether fresh large buffers are advised for huge pages: only when
// TFBUNDLE_HUGE_PAGES=1 (see buffer_pool.h for why not by default).
bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("TFBUNDLE_HUGE_PAGES");
    return v != nullptr && v[0] == '1';
  }();
  return wanted;
}

// The mapping a buffer of n bytes takes: whole pages, plus 2 MiB of slack
// to start on a huge-page boundary when huge pages are wanted.
size_t region_size_for(size_t n) {
  const size_t pages = (n + kPage - 1) / kPage * kPage;
  return n >= kHuge && huge_pages_wanted() ? pages + kHuge : pages;
}

}  // namespace

Buffer acquire_buffer(size_t n) {
  const size_t size = region_size_for(n);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    // The smallest cached region that fits, if it wastes at most half of itself.
    auto it = c.by_size.lower_bound(size);
    if (it != c.by_size.end() && it->first <= 2 * size) {
      const Buffer b = *it->second;
      c.erase(it);
      return b;
    }
  }
  void* region = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED && trim_buffer_cache() > 0) {  // the cache's mappings may be what ran out
    region = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (region == MAP_FAILED) throw std::bad_alloc();
  if (n < kHuge || !huge_pages_wanted()) return Buffer{region, region, size};
  // Advance to the next huge-page boundary by pointer arithmetic (keeps provenance).
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(region) & (uintptr_t{kHuge} - 1);
  void* aligned = static_cast<char*>(region) + (misalignment == 0 ? 0 : kHuge - misalignment);
#ifdef MADV_HUGEPAGE
  ::madvise(aligned, n, MADV_HUGEPAGE);
#endif
  return Buffer{aligned, region, size};
}

void release_buffer(const Buffer& buffer) {
  Cache& c = cache();
  if (buffer.region_size > cache_limit()) {
    ::munmap(buffer.region, buffer.region_size);
    return;
  }
#ifdef MADV_FREE
  ::madvise(buffer.region, buffer.region_size, MADV_FREE);
#endif
  std::list<Buffer> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    while (c.bytes + buffer.region_size > cache_limit()) evicted.push_back(c.pop_oldest());
    c.by_age.push_back(buffer);
    c.by_size.emplace(buffer.region_size, std::prev(c.by_age.end()));
    c.bytes += buffer.region_size;
  }
  for (const Buffer& b : evicted) ::munmap(b.region, b.region_size);
}

size_t trim_buffer_cache() {
  Cache& c = cache();
  std::list<Buffer> all;
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    all.swap(c.by_age);
    c.by_size.clear();
    bytes = c.bytes;
    c.bytes = 0;
  }
  for (const Buffer& b : all) ::munmap(b.region, b.region_size);
  return bytes;
}

}  // namespace tfbundle
