// Destination buffers for tensor reads, recycled through a bounded cache.
//
// A fresh page costs more to fault in and zero (the kernel's clear_page was
// half of a large read's time in profiles) than to fill from the page cache,
// so released buffers are kept, marked MADV_FREE (the kernel may still take
// them back under memory pressure), and handed to the next read of a similar
// size. Buffers of 2 MiB and more start on a huge-page boundary and are
// advised for huge pages (on a VM, TLB misses on 4 KiB pages slowed copies
// by half). When the cache is full, the buffers released longest ago go
// back to the system first. The cache holds at most TFBUNDLE_BUFFER_CACHE_MB
// MiB (default: a quarter of physical memory, at most 4 GiB; 0 disables it).
#pragma once

#include <cstddef>

namespace tfbundle {

struct Buffer {
  void* data = nullptr;    // at least `size` bytes; 2 MiB-aligned for large ones
  void* region = nullptr;  // the mapping to give back
  size_t region_size = 0;
};

// Returns a buffer of at least n bytes. Throws std::bad_alloc.
Buffer acquire_buffer(size_t n);
// Gives a buffer back (to the cache, or to the system).
void release_buffer(const Buffer& buffer);
// Returns every cached buffer to the system; the bytes released.
size_t trim_buffer_cache();

}  // namespace tfbundle
