#include "bulk_rows.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <tuple>

#include "bundle_reader.h"
#include "errors.h"
#include "fresh_pages.h"

namespace tfbundle {

namespace {

// The stacked tensors of a data file are read with one preadv of the span
// they cover when it is at most this size (and mostly theirs); otherwise
// through a BundleReader (a pread of each payload into place).
constexpr uint64_t kWholeFileLimit = 8 << 20;
// At most this many pieces (payloads and the gaps between them) per preadv;
// more go through the BundleReader path (IOV_MAX is 1024 on Linux).
constexpr size_t kMaxPieces = 1024;

// A buffer reused by one thread from row to row: grown, never zero-filled
// (a row's 64 KiB index buffer, cleared each time, cost more than parsing).
class Scratch {
 public:
  char* get(size_t n) {
    if (n > capacity_) {
      bytes_ = std::make_unique<char[]>(n);  // zeroed, but only when it grows
      capacity_ = n;
    }
    return bytes_.get();
  }
  size_t capacity() const { return capacity_; }
  // Grows to n bytes keeping the first `keep` (n >= keep).
  char* grow(size_t n, size_t keep) {
    if (n <= capacity_) return bytes_.get();
    auto bigger = std::make_unique<char[]>(n);
    std::memcpy(bigger.get(), bytes_.get(), keep);
    bytes_ = std::move(bigger);
    capacity_ = n;
    return bytes_.get();
  }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t capacity_ = 0;
};

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(const std::string& path) : path_(path), fd_(open_for_reading(path)) {
    if (fd_ < 0) {
      if (errno == ENOENT) throw FileMissing(path + ": no such file");
      throw IoError(path + ": " + std::strerror(errno), errno);
    }
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  // Opens without updating the access time where allowed (the file's owner
  // or CAP_FOWNER; else EPERM, and this thread stops asking): a read then
  // skips the inode's timestamp update, 5% of a zoo checkpoint's cost.
  static int open_for_reading(const std::string& path) {
#ifdef O_NOATIME
    thread_local bool no_atime_allowed = true;
    if (no_atime_allowed) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
      if (fd >= 0 || errno != EPERM) return fd;
      no_atime_allowed = false;
    }
#endif
    return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }

  // Reads the whole file into `buffer`: one pread into a 64 KiB buffer
  // holds a small file, and a short read is its end, so no fstat is needed.
  // (Had a read come back short for another reason, the table's footer
  // would be missing and parsing it would fail: nothing is misread.)
  std::string_view read_to_end(Scratch* buffer) const {
    char* data = buffer->get(size_t{64} << 10);
    size_t done = 0;
    for (;;) {
      const ssize_t got = ::pread(fd_, data + done, buffer->capacity() - done, static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(std::string(path_) + ": read failed: " + std::strerror(errno), errno);
      done += static_cast<size_t>(got);
      if (got == 0 || done < buffer->capacity()) break;
      data = buffer->grow(buffer->capacity() * 2, done);
    }
    return {data, done};
  }

  // Fills the pieces `iov` with the file's bytes from `offset` on, with as
  // few preadv calls as the kernel allows; DataLoss if the file is shorter.
  // Consumes `iov` (advanced past what each call read).
  void read_pieces(std::vector<iovec>* iov, uint64_t offset, uint64_t end) const {
    size_t next = 0;
    while (next < iov->size()) {
      const ssize_t got =
          ::preadv(fd_, iov->data() + next, static_cast<int>(iov->size() - next), static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(std::string(path_) + ": read failed: " + std::strerror(errno), errno);
      if (got == 0) {
        throw DataLoss(std::string(path_) + ": the file ends at byte " + std::to_string(offset) +
                       " but tensors span to " + std::to_string(end) + " (truncated data file?)");
      }
      offset += static_cast<uint64_t>(got);
      size_t left = static_cast<size_t>(got);  // at most what the pieces from `next` on hold
      for (; next < iov->size() && left >= (*iov)[next].iov_len; next++) left -= (*iov)[next].iov_len;
      if (left > 0) {  // piece `next` was read in part: read its rest next time
        (*iov)[next].iov_base = static_cast<char*>((*iov)[next].iov_base) + left;
        (*iov)[next].iov_len -= left;
      }
    }
  }

 private:
  std::string_view path_;  // the caller's string, which outlives this
  int fd_;
};

// Checks that entry i of `reader` has the column's dtype and shape.
void check_column(const BundleReader& reader, size_t i, const StackColumn& c) {
  const bool same_shape =
      reader.rank(i) == c.shape.size() && std::equal(c.shape.begin(), c.shape.end(), reader.dims(i));
  if (reader.dtype(i) != c.dtype || !same_shape) {
    std::string shape;
    for (size_t d = 0; d < reader.rank(i); d++) shape += (d ? ", " : "") + std::to_string(reader.dims(i)[d]);
    throw InvalidArgument(reader.prefix() + ": tensor '" + c.key + "' has dtype enum " +
                          std::to_string(reader.dtype(i)) + " and shape [" + shape +
                          "], unlike the first checkpoint's");
  }
}

// One column's payload in this row: where it lies and where it goes.
struct Piece {
  int32_t shard;
  uint64_t offset, size;  // < 2^63 each (checked when the index was decoded)
  size_t entry;
  char* dst;
};

thread_local Scratch index_buffer;  // the current row's .index bytes
thread_local Scratch gap_sink;      // bytes between payloads, read and dropped

}  // namespace

void read_stack_row(const std::string& prefix, const std::vector<StackColumn>& columns, size_t row, bool verify) {
  const std::string index_path = prefix + ".index";
  std::unique_ptr<BundleReader> reader = BundleReader::from_index(prefix, Fd(index_path).read_to_end(&index_buffer));

  thread_local std::vector<Piece> pieces;  // reused from row to row, as are iov and the scratch buffers
  pieces.clear();
  uint64_t total = 0;
  for (const StackColumn& c : columns) {
    const size_t i = reader->find(c.key);
    check_column(*reader, i, c);
    const PayloadRange range = reader->payload_range(i);
    if (range.size != c.nbytes) throw InvalidArgument(prefix + ": tensor '" + c.key + "' has the wrong byte size");
    pieces.push_back(Piece{range.shard_id, range.offset, range.size, i, c.base + row * c.row_stride});
    total += range.size;
  }
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return std::tie(a.shard, a.offset) < std::tie(b.shard, b.offset); });
  // Per data file, the span the payloads cover, read by one preadv straight
  // into the destinations, unless the payloads are large, far apart or
  // overlap (only a damaged index overlaps them).
  uint64_t span_bytes = 0, widest_gap = 0;
  size_t count = 0;
  bool overlap = false;
  for (size_t k = 0; k < pieces.size(); k++) {
    const bool same_file = k > 0 && pieces[k].shard == pieces[k - 1].shard;
    const uint64_t previous_end = same_file ? pieces[k - 1].offset + pieces[k - 1].size : pieces[k].offset;
    overlap |= pieces[k].offset < previous_end;
    const uint64_t gap = pieces[k].offset > previous_end ? pieces[k].offset - previous_end : 0;
    widest_gap = std::max(widest_gap, gap);
    span_bytes += gap + pieces[k].size;
    count += 1 + (gap > 0);
  }
  if (overlap || count > kMaxPieces || span_bytes > kWholeFileLimit || span_bytes > 2 * total + (64 << 10)) {
    BundleReader direct(prefix);
    for (const StackColumn& c : columns) direct.read_into(c.key, c.base + row * c.row_stride, c.nbytes, verify);
    return;
  }
  char* sink = gap_sink.get(static_cast<size_t>(widest_gap));
  thread_local std::vector<iovec> iov;
  for (size_t first = 0; first < pieces.size();) {
    size_t last = first;  // pieces [first, last) lie in one data file
    iov.clear();
    uint64_t at = pieces[first].offset;
    for (; last < pieces.size() && pieces[last].shard == pieces[first].shard; last++) {
      const Piece& p = pieces[last];
      if (p.offset > at) iov.push_back(iovec{sink, static_cast<size_t>(p.offset - at)});
      if (p.size > 0) iov.push_back(iovec{p.dst, static_cast<size_t>(p.size)});
      at = p.offset + p.size;
    }
    if (!iov.empty()) {
      const std::string path = reader->data_path(pieces[first].shard);
      Fd(path).read_pieces(&iov, pieces[first].offset, at);
    }
    first = last;
  }
  for (const Piece& p : pieces) reader->check_fetched(p.entry, p.dst, static_cast<size_t>(p.size), verify);
}

std::vector<std::pair<size_t, std::string>> read_stack_rows(const std::vector<std::string>& prefixes,
                                                            const std::vector<StackColumn>& columns, bool verify) {
  constexpr uintptr_t kWindow = uintptr_t{512} << 10;  // populated at a time, per column
  const uintptr_t page_mask = page_bytes() - 1;
  // Per column, the address up to which its rows' pages were populated (or
  // found in use). Windows are whole pages and never overlap, so a window's
  // first page is resident only if the memory was in use before, or another
  // column of the same array (a flattened stack) populated it.
  std::vector<uintptr_t> populated(columns.size(), 0);
  std::vector<std::pair<size_t, std::string>> failed;
  for (size_t row = 0; row < prefixes.size(); row++) {
    for (size_t c = 0; c < columns.size(); c++) {
      const StackColumn& col = columns[c];
      char* row_start = col.base + row * col.row_stride;
      const uintptr_t row_end = reinterpret_cast<uintptr_t>(row_start) + col.nbytes;
      if (col.nbytes == 0 || row_end <= populated[c]) continue;
      const uintptr_t from = std::max(reinterpret_cast<uintptr_t>(row_start) & ~page_mask, populated[c]);
      const uintptr_t column_end =
          reinterpret_cast<uintptr_t>(col.base + (prefixes.size() - 1) * col.row_stride) + col.nbytes;
      const uintptr_t to = (std::min(std::max(row_end, from + kWindow), column_end) + page_mask) & ~page_mask;
      const auto lead = static_cast<ptrdiff_t>(reinterpret_cast<uintptr_t>(row_start) - from);  // may be negative
      populate_if_untouched(row_start - lead, to - from);
      populated[c] = to;
    }
    try {
      read_stack_row(prefixes[row], columns, row, verify);
    } catch (const std::exception& e) {
      failed.emplace_back(row, e.what());
    }
  }
  return failed;
}

}  // namespace tfbundle
