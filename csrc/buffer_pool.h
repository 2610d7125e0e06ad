// Destination buffers for tensor reads, recycled through a bounded cache.
//
// A fresh page costs more to fault in and zero (the kernel's clear_page was
// half of a large read's time in profiles) than to fill from the page cache,
// so released buffers are kept and handed to the next read of a similar
// size. When the cache is full, the buffers released longest ago go back to
// the system first. The cache holds at most TFBUNDLE_BUFFER_CACHE_MB MiB
// (default: a quarter of physical memory, at most 4 GiB; 0 disables it).
//
// A released buffer stays dirty (its pages mapped and owned) for
// TFBUNDLE_DIRTY_DECAY_MS (default 10 s) and while the dirty ones hold at
// most half the cache; then it is advised MADV_FREE, by a background thread
// or by the release that went over the limit, so the kernel may take its
// pages under memory pressure. Advising is not free, nor is reusing advised
// pages: a 0.2 GB read into a dirty buffer ran at 3.7-4.0 GB/s against
// 2.9-3.2 GB/s into an advised one, and advising the buffer took 10-19 ms
// (28-82 ms for 1.3 GB), as long as a quarter of the read.
//
// Fresh buffers are 4 KiB pages, populated chunk by chunk as reads fill
// them (fresh_pages.h). Huge pages (TFBUNDLE_HUGE_PAGES=1: buffers from
// 2 MiB start on a huge-page boundary and are advised MADV_HUGEPAGE) fault
// in 4x faster when the guest's free memory is backed by the host, but on
// a VM whose balloon reports free pages back to the host, memory a fresh
// process touches is usually not, and there 2 MiB pages came in at
// 0.6-1.9 GB/s against 3.0-3.4 GB/s for 4 KiB pages populated on two
// threads: a first 1.3 GB load took 1.2-1.8 s with huge pages, 0.63-0.69 s
// without. A recycled dirty buffer costs no fault either way; an advised
// one read about 20% slower with 4 KiB pages and no slower with huge pages
// (which is why dirty buffers are kept, above).
#pragma once

#include <cstddef>

namespace tfbundle {

struct Buffer {
  void* data = nullptr;    // at least `size` bytes; 2 MiB-aligned for large ones with huge pages
  void* region = nullptr;  // the mapping to give back
  size_t region_size = 0;
};

// Returns a buffer of at least n bytes. Throws std::bad_alloc.
Buffer acquire_buffer(size_t n);
// Gives a buffer back (to the cache, or to the system).
void release_buffer(const Buffer& buffer);
// Returns every cached buffer to the system; the bytes released.
size_t trim_buffer_cache();

struct BufferCacheBytes {
  size_t cached = 0;  // every buffer in the cache
  size_t dirty = 0;   // those not yet advised MADV_FREE
};
BufferCacheBytes buffer_cache_bytes();

}  // namespace tfbundle
