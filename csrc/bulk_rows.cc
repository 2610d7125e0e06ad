#include "bulk_rows.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "bundle_reader.h"
#include "errors.h"

namespace tfbundle {

namespace {

// The stacked tensors of a data file are read with one pread of the span
// they cover when it is at most this size (and mostly theirs); otherwise
// through a BundleReader (a pread of each payload into place).
constexpr uint64_t kWholeFileLimit = 8 << 20;

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) {
      if (errno == ENOENT) throw FileMissing(path + ": no such file");
      throw IoError(path + ": " + std::strerror(errno), errno);
    }
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  // Reads the whole file: one pread into a 64 KiB buffer holds a small
  // file, and a short read is its end, so no fstat is needed. (Had a read
  // come back short for another reason, the table's footer would be
  // missing and parsing it would fail: nothing is misread silently.)
  void read_to_end(const std::string& path, std::string* out) const {
    out->resize(size_t{64} << 10);
    size_t done = 0;
    for (;;) {
      const ssize_t got = ::pread(fd_, out->data() + done, out->size() - done, static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(path + ": read failed: " + std::strerror(errno), errno);
      done += static_cast<size_t>(got);
      if (got == 0 || done < out->size()) break;
      out->resize(out->size() * 2);
    }
    out->resize(done);
  }

  // Reads out->size() bytes from `offset`; DataLoss if the file is shorter.
  void read_at(const std::string& path, uint64_t offset, std::string* out) const {
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t got = ::pread(fd_, out->data() + done, out->size() - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(path + ": read failed: " + std::strerror(errno), errno);
      if (got == 0) {
        throw DataLoss(path + ": the file ends at byte " + std::to_string(offset + done) + " but tensors span to " +
                       std::to_string(offset + out->size()) + " (truncated data file?)");
      }
      done += static_cast<size_t>(got);
    }
  }

 private:
  int fd_;
};

void check_column(const BundleReader& reader, const StackColumn& c) {
  const size_t i = reader.find(c.key);
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

}  // namespace

void read_stack_row(const std::string& prefix, const std::vector<StackColumn>& columns, size_t row, bool verify) {
  const std::string index_path = prefix + ".index";
  std::string index;
  Fd(index_path).read_to_end(index_path, &index);
  std::unique_ptr<BundleReader> reader = BundleReader::from_index(prefix, index);

  // Per data file, the span of bytes the columns need: read with one pread.
  struct Span {
    uint64_t begin = UINT64_MAX, end = 0;
    std::string bytes;
  };
  std::map<int32_t, Span> spans;
  uint64_t total = 0;
  for (const StackColumn& c : columns) {
    check_column(*reader, c);
    const PayloadRange range = reader->payload_range(c.key);  // offset, size < 2^63 each
    if (range.size != c.nbytes) throw InvalidArgument(prefix + ": tensor '" + c.key + "' has the wrong byte size");
    Span& span = spans[range.shard_id];
    span.begin = std::min(span.begin, range.offset);
    span.end = std::max(span.end, range.offset + range.size);
    total += range.size;
  }
  uint64_t span_bytes = 0;
  for (const auto& [shard, span] : spans) span_bytes += span.end - span.begin;
  if (span_bytes > kWholeFileLimit || span_bytes > 2 * total + (64 << 10)) {
    // Large tensors, or small ones far apart: read each payload into place.
    BundleReader direct(prefix);
    for (const StackColumn& c : columns) direct.read_into(c.key, c.base + row * c.row_stride, c.nbytes, verify);
    return;
  }
  for (auto& [shard, span] : spans) {
    const std::string path = reader->data_path(shard);
    span.bytes.resize(static_cast<size_t>(span.end - span.begin));
    Fd(path).read_at(path, span.begin, &span.bytes);
  }
  for (const StackColumn& c : columns) {
    const PayloadRange range = reader->payload_range(c.key);
    const Span& span = spans[range.shard_id];
    const std::string_view payload(span.bytes.data() + (range.offset - span.begin), static_cast<size_t>(range.size));
    reader->read_fetched(c.key, payload, c.base + row * c.row_stride, c.nbytes, verify);
  }
}

}  // namespace tfbundle
