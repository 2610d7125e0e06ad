#include "file_copy.h"

#include <algorithm>
#include <vector>

#include "crc32c.h"
#include "fresh_pages.h"
#include "parallel.h"

namespace tfbundle {

namespace {

constexpr size_t kChunk = size_t{512} * 1024;               // pread unit, checksummed while in L2
constexpr size_t kParallelPartBytes = kSplitCopyBytes / 2;  // the smallest part a split range is cut into
constexpr int kMaxParallelParts = 64;

uint32_t copy_serial(const MappedFile& file, uint64_t offset, char* dst, size_t n, bool checksum) {
  uint32_t crc = 0;
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(kChunk, n - done);
    if (k >= kPopulateMinBytes) populate_if_untouched(dst + done, k);
    file.pread_into(offset + done, k, dst + done);
    if (checksum) crc = crc32c::extend(crc, dst + done, k);
    done += k;
  }
  return crc;
}

}  // namespace

uint32_t copy_from_file(const MappedFile& file, uint64_t offset, size_t n, void* dst, bool checksum) {
  // Parts are claimed one at a time by whichever thread is free, so more
  // parts than threads balance a helper that wakes late or runs slow.
  const int parts = hardware_threads() <= 1 || n < kSplitCopyBytes
                        ? 1
                        : static_cast<int>(std::min<size_t>(n / kParallelPartBytes, kMaxParallelParts));
  std::vector<uint32_t> crcs(static_cast<size_t>(parts), 0);
  std::vector<size_t> sizes(static_cast<size_t>(parts), 0);
  run_in_parts(n, parts, kChunk, [&](size_t begin, size_t end, int index) {
    sizes[static_cast<size_t>(index)] = end - begin;
    crcs[static_cast<size_t>(index)] =
        copy_serial(file, offset + begin, static_cast<char*>(dst) + begin, end - begin, checksum);
  });
  uint32_t crc = crcs[0];
  for (size_t i = 1; i < crcs.size(); i++) crc = crc32c::combine(crc, crcs[i], sizes[i]);
  return crc;
}

}  // namespace tfbundle
