#include "buffer_pool.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

namespace tfbundle {

namespace {

using Clock = std::chrono::steady_clock;

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

// At most this many cached bytes are dirty (not yet advised MADV_FREE).
size_t dirty_limit() {
  return cache_limit() / 2;
}

// How long a released buffer stays dirty before it is advised MADV_FREE:
// TFBUNDLE_DIRTY_DECAY_MS, default 10 s (jemalloc's default dirty decay);
// 0 advises every buffer as it is released.
Clock::duration dirty_decay() {
  static const Clock::duration decay = [] {
    const char* v = std::getenv("TFBUNDLE_DIRTY_DECAY_MS");
    const unsigned long long ms = v != nullptr ? std::strtoull(v, nullptr, 10) : 10000;
    return std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms));
  }();
  return decay;
}

struct Cached {
  Buffer buffer;
  Clock::time_point released;
};

// Whether a cached buffer's pages were advised MADV_FREE. Dirty sorts
// first, so a read takes a dirty buffer of a size when there is one.
enum class State : std::uint8_t { kDirty = 0, kAdvised = 1 };

// Cached buffers in two lists ordered by release (front: oldest), findable
// by size. Invariant: bytes and dirty_bytes are the region sizes in both
// lists and in `dirty` alone; bytes <= cache_limit(). Buffers being
// advised are in neither list (nothing can hand them out meanwhile).
struct Cache {
  using List = std::list<Cached>;
  using Key = std::pair<size_t, State>;  // region size, state
  std::mutex mu;
  // Wakes the decay thread. Replaced (the old one leaked) in a forked
  // child: the parent's waiting thread stays registered in the copy, and
  // glibc's notify can then wait for it forever.
  std::condition_variable* dirty_added = new std::condition_variable();
  List dirty;
  List advised;
  std::multimap<Key, List::iterator> by_size;
  size_t bytes = 0;
  size_t dirty_bytes = 0;
  bool decay_running = false;

  List& list(State s) { return s == State::kDirty ? dirty : advised; }

  void insert(State s, const Cached& entry, bool at_front) {
    List& l = list(s);
    auto pos = l.insert(at_front ? l.begin() : l.end(), entry);
    by_size.emplace(Key{entry.buffer.region_size, s}, pos);
    bytes += entry.buffer.region_size;
    if (s == State::kDirty) dirty_bytes += entry.buffer.region_size;
  }
  Cached erase(std::multimap<Key, List::iterator>::iterator it) {
    const Cached entry = *it->second;
    bytes -= it->first.first;
    if (it->first.second == State::kDirty) dirty_bytes -= it->first.first;
    list(it->first.second).erase(it->second);
    by_size.erase(it);
    return entry;
  }
  // Removes the oldest entry of a non-empty list and returns it.
  Cached pop_front(State s) {
    List& l = list(s);
    auto range = by_size.equal_range(Key{l.front().buffer.region_size, s});
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == l.begin()) return erase(it);
    }
    std::abort();  // unreachable: every entry is indexed by size
  }
  // The oldest dirty buffers that are over the dirty limit or were
  // released before `due`, taken out of the cache to be advised.
  std::vector<Cached> take_to_advise(Clock::time_point due) {
    std::vector<Cached> out;
    while (!dirty.empty() && (dirty_bytes > dirty_limit() || dirty.front().released <= due)) {
      out.push_back(pop_front(State::kDirty));
    }
    return out;
  }
  // Puts advised buffers back as the oldest entries; those that no longer
  // fit go to `unmap`.
  void put_back_advised(const std::vector<Cached>& entries, std::vector<Buffer>* unmap) {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (bytes + it->buffer.region_size > cache_limit()) {
        unmap->push_back(it->buffer);
      } else {
        insert(State::kAdvised, *it, /*at_front=*/true);
      }
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: buffers may be released at exit
  return *c;
}

void advise_free(const std::vector<Cached>& entries) {
#ifdef MADV_FREE
  for (const Cached& e : entries) ::madvise(e.buffer.region, e.buffer.region_size, MADV_FREE);
#else
  (void)entries;
#endif
}

void unmap_all(const std::vector<Buffer>& buffers) {
  for (const Buffer& b : buffers) ::munmap(b.region, b.region_size);
}

// Advises buffers that stayed dirty for dirty_decay(), sleeping while none
// is dirty: memory a program stopped using goes back to the kernel's
// reclaim within seconds even if tfbundle is never called again.
void decay_loop() {
  Cache& c = cache();
  std::unique_lock<std::mutex> lock(c.mu);
  for (;;) {
    if (c.dirty.empty()) {
      c.dirty_added->wait(lock);
      continue;
    }
    const auto due = c.dirty.front().released + dirty_decay();
    if (Clock::now() < due) {
      c.dirty_added->wait_until(lock, due);
      continue;
    }
    const std::vector<Cached> entries = c.take_to_advise(Clock::now() - dirty_decay());
    lock.unlock();
    advise_free(entries);
    std::vector<Buffer> unmap;
    lock.lock();
    c.put_back_advised(entries, &unmap);
    lock.unlock();
    unmap_all(unmap);
    lock.lock();
  }
}

// Starts the decay thread once per process (again in a forked child, which
// has no copy of it), and returns whether it runs. Called with the cache's
// lock held.
bool start_decay_locked(Cache& c) {
  if (c.decay_running) return true;
  static const bool fork_handlers = [] {
    // The lock is held across fork, so a child never inherits it locked
    // by a thread that does not exist there.
    ::pthread_atfork([] { cache().mu.lock(); }, [] { cache().mu.unlock(); },
                     [] {
                       Cache& child = cache();
                       child.decay_running = false;
                       child.dirty_added = new std::condition_variable();
                       child.mu.unlock();
                     });
    return true;
  }();
  (void)fork_handlers;
  try {
    std::thread(decay_loop).detach();  // lives as long as the process
    c.decay_running = true;
  } catch (const std::system_error&) {
    return false;  // tried again at the next release
  }
  return true;
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
    // The smallest cached region that fits (dirty before advised), if it
    // wastes at most half of itself.
    auto it = c.by_size.lower_bound(Cache::Key{size, State::kDirty});
    if (it != c.by_size.end() && it->first.first <= 2 * size) return c.erase(it).buffer;
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
  std::vector<Buffer> unmap;
  std::vector<Cached> to_advise;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    while (c.bytes + buffer.region_size > cache_limit()) {
      unmap.push_back(c.pop_front(c.advised.empty() ? State::kDirty : State::kAdvised).buffer);
    }
    const bool was_clean = c.dirty.empty();
    c.insert(State::kDirty, Cached{buffer, Clock::now()}, /*at_front=*/false);
    const bool decaying = start_decay_locked(c);
    // Over the dirty limit (or past their decay), the oldest dirty buffers
    // are advised here; without a decay thread, every one is.
    to_advise = c.take_to_advise(decaying ? Clock::now() - dirty_decay() : Clock::now());
    if (was_clean) c.dirty_added->notify_one();
  }
  unmap_all(unmap);
  if (to_advise.empty()) return;
  advise_free(to_advise);
  std::vector<Buffer> overflow;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.put_back_advised(to_advise, &overflow);
  }
  unmap_all(overflow);
}

BufferCacheBytes buffer_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return BufferCacheBytes{c.bytes, c.dirty_bytes};
}

size_t trim_buffer_cache() {
  Cache& c = cache();
  std::vector<Buffer> all;
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (const Cached& e : c.dirty) all.push_back(e.buffer);
    for (const Cached& e : c.advised) all.push_back(e.buffer);
    c.dirty.clear();
    c.advised.clear();
    c.by_size.clear();
    bytes = c.bytes;
    c.bytes = 0;
    c.dirty_bytes = 0;
  }
  unmap_all(all);
  return bytes;
}

}  // namespace tfbundle
