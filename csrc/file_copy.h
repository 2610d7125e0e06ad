// Copying a byte range of a file into memory as fast as the machine allows:
// pread (a kernel copy from the page cache, which skips faulting a mapping
// in) in cache-sized chunks, each checksummed while hot, and large ranges
// split across cores with the parts' CRCs combined.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mapped_file.h"

namespace tfbundle {

// Ranges from this size up are split across the thread pool's threads.
constexpr size_t kSplitCopyBytes = size_t{1} << 20;

// Copies [offset, offset + n) of `file` to dst and returns the bytes'
// CRC32C when `checksum` (else 0). REQUIRES: the range lies in the file.
uint32_t copy_from_file(const MappedFile& file, uint64_t offset, size_t n, void* dst, bool checksum);

}  // namespace tfbundle
