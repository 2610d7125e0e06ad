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

// Data files up to this size are read whole with one pread; larger ones
// are read through a BundleReader (pread of each payload into place).
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

  uint64_t size(const std::string& path) const {
    struct stat st;
    if (::fstat(fd_, &st) != 0) throw IoError(path + ": " + std::strerror(errno), errno);
    if (S_ISDIR(st.st_mode)) throw IoError(path + ": is a directory", EISDIR);
    return static_cast<uint64_t>(st.st_size);
  }

  // Reads the first out->size() bytes; DataLoss if the file is shorter.
  void read_all(const std::string& path, std::string* out) const {
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t got = ::pread(fd_, out->data() + done, out->size() - done, static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(path + ": read failed: " + std::strerror(errno), errno);
      if (got == 0) throw DataLoss(path + ": file ended early (was it truncated while open?)");
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
  {
    Fd fd(index_path);
    index.resize(static_cast<size_t>(fd.size(index_path)));
    fd.read_all(index_path, &index);
  }
  std::unique_ptr<BundleReader> reader = BundleReader::from_index(prefix, index);
  for (const StackColumn& c : columns) check_column(*reader, c);

  // Every shard the columns need, read whole when small.
  std::map<int32_t, std::string> shards;
  for (const StackColumn& c : columns) {
    const PayloadRange range = reader->payload_range(c.key);
    if (range.size != c.nbytes) throw InvalidArgument(prefix + ": tensor '" + c.key + "' has the wrong byte size");
    if (shards.count(range.shard_id) != 0) continue;
    const std::string path = reader->data_path(range.shard_id);
    Fd fd(path);
    const uint64_t size = fd.size(path);
    if (size > kWholeFileLimit) {  // a large checkpoint: read each payload into place
      BundleReader direct(prefix);
      for (const StackColumn& d : columns) {
        direct.read_into(d.key, d.base + row * d.row_stride, d.nbytes, verify);
      }
      return;
    }
    std::string& bytes = shards[range.shard_id];
    bytes.resize(static_cast<size_t>(size));
    fd.read_all(path, &bytes);
  }
  for (const StackColumn& c : columns) {
    const PayloadRange range = reader->payload_range(c.key);
    const std::string& bytes = shards[range.shard_id];
    if (range.offset > bytes.size() || range.size > bytes.size() - range.offset) {
      throw DataLoss(reader->data_path(range.shard_id) + ": tensor '" + c.key + "' spans bytes [" +
                     std::to_string(range.offset) + ", " + std::to_string(range.offset + range.size) +
                     ") but the file has " + std::to_string(bytes.size()) + " bytes (truncated data file?)");
    }
    const std::string_view payload(bytes.data() + range.offset, static_cast<size_t>(range.size));
    reader->read_fetched(c.key, payload, c.base + row * c.row_stride, c.nbytes, verify);
  }
}

}  // namespace tfbundle
