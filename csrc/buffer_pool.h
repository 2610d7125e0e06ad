// Large destination buffers for tensor reads: 2 MiB-aligned anonymous memory
// advised for huge pages, recycled through a bounded cache.
//
// A fresh page costs more to fault in and zero (the kernel's clear_page was
// half of a large read's time in profiles) than to fill from the page cache,
// so released buffers are kept, marked MADV_FREE (the kernel may still take
// them back under memory pressure), and handed to the next read of a similar
// size. The cache holds at most TFBUNDLE_BUFFER_CACHE_MB (default 1024) MiB.
#pragma once

#include <cstddef>

namespace tfbundle {

struct Buffer {
  void* data = nullptr;   // 2 MiB-aligned, at least `size` bytes
  void* region = nullptr;  // the mapping to give back
  size_t region_size = 0;
};

// Returns a buffer of at least n bytes. Throws std::bad_alloc.
Buffer acquire_buffer(size_t n);
// Gives a buffer back (to the cache, or to the system).
void release_buffer(const Buffer& buffer);

}  // namespace tfbundle
