#include "bundle_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "crc32c.h"
#include "dtypes.h"
#include "errors.h"
#include "mapped_file.h"
#include "parallel.h"
#include "table_builder.h"
#include "tensor_strings.h"

namespace tfbundle {

namespace {

constexpr size_t kBufferSize = 1 << 20;             // small tensors are gathered up to this
constexpr size_t kChunk = size_t{256} * 1024;       // checksum-then-write unit for large ones
constexpr size_t kReserveMin = size_t{256} * 1024;  // smaller writes are not worth a syscall
constexpr size_t kOverlapCrcMin = 4 << 20;          // below, a thread costs more than it saves

[[noreturn]] void throw_errno(const std::string& what, int err) {
  if (err == ENOENT) throw FileMissing(what + ": " + std::strerror(err));
  throw IoError(what + ": " + std::strerror(err), err);
}

// `<final>.tfbundle-tmp.<host>.<pid>.<random>`: the host and pid let a later
// writer recognise (and remove) the leftovers of a writer that was killed.
std::string temp_name(const std::string& final_path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char host[256] = "localhost";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  return final_path + ".tfbundle-tmp." + host + "." + std::to_string(::getpid()) + "." +
         std::to_string(rng() & 0xffffffffffffull);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_path(const std::string& path, bool directory) {
  // POSIX open flags are ints by definition.
  const int fd = ::open(
      path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);  // NOLINT(bugprone-signed-bitwise)
  if (fd < 0) throw_errno("open " + path + " for fsync", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_errno("fsync " + path, err);
}

int64_t product(const Dims& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument("negative dimension in shape");
    if (d != 0 && n > INT64_MAX / d) throw InvalidArgument("shape has too many elements");
    n *= d;
  }
  return n;
}

}  // namespace

BundleWriter::BundleWriter(std::string prefix, int32_t num_shards) : prefix_(std::move(prefix)) {
  if (num_shards < 1 || num_shards > 99999) throw InvalidArgument("num_shards must be between 1 and 99999");
  shards_.resize(static_cast<size_t>(num_shards));
  try {
    for (int32_t i = 0; i < num_shards; i++) {
      char suffix[64];
      std::snprintf(suffix, sizeof suffix, ".data-%05d-of-%05d", i, num_shards);
      Shard& s = shards_[static_cast<size_t>(i)];
      s.final_path = prefix_ + suffix;
      s.temp_path = temp_name(s.final_path);
      s.fd = ::open(s.temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (s.fd < 0) throw_errno("create " + s.temp_path, errno);
    }
  } catch (...) {
    abort();
    throw;
  }
}

BundleWriter::~BundleWriter() {
  if (state_ == kOpen) discard();
}

std::vector<std::string> BundleWriter::data_paths() const {
  std::vector<std::string> out;
  out.reserve(shards_.size());
  for (const Shard& s : shards_) out.push_back(s.final_path);
  return out;
}

void BundleWriter::check_new_key(const std::string& key) const {
  if (state_ != kOpen) throw InvalidArgument("the writer for " + prefix_ + " is already closed");
  if (key.empty()) throw InvalidArgument("the empty key is reserved for the bundle header");
  if (entries_.count(key) != 0 || partitioned_.count(key) != 0) {
    throw InvalidArgument("duplicate key '" + key + "'");
  }
}

size_t BundleWriter::pick_shard(const std::string& key, int32_t shard) const {
  if (shard >= static_cast<int32_t>(shards_.size())) {
    throw InvalidArgument("key '" + key + "': shard " + std::to_string(shard) + " does not exist");
  }
  if (shard >= 0) return static_cast<size_t>(shard);
  size_t best = 0;
  for (size_t i = 1; i < shards_.size(); i++) {
    if (shards_[i].size < shards_[best].size) best = i;
  }
  return best;
}

void BundleWriter::write_all(int fd, const std::string& path, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t wrote = ::write(fd, data, n);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + path, errno);
    }
    data += wrote;
    n -= static_cast<size_t>(wrote);
  }
}

// Buffered writes into blocks that fallocate already reserved skip ext4's and
// xfs's per-page delayed allocation: 1.4x the speed of plain writes into the
// page cache on the dev machine (see benchmarks/bench_write.py). KEEP_SIZE
// leaves the file's length to the writes, so a reader of the temporary file
// never sees unwritten zeros as data. A full disk fails here, before a byte
// of the tensor is written; a file system without fallocate gets plain
// writes.
void BundleWriter::reserve(Shard* shard, size_t n) {
#ifdef __linux__
  if (!shard->can_reserve || n < kReserveMin) return;
  const auto at = static_cast<off_t>(shard->size - shard->pending.size());
  if (::fallocate(shard->fd, FALLOC_FL_KEEP_SIZE, at, static_cast<off_t>(n)) == 0) return;
  const int err = errno;
  if (err == ENOSPC || err == EDQUOT) throw_errno("reserve space in " + shard->temp_path, err);
  shard->can_reserve = false;  // unsupported here (EOPNOTSUPP, ENOSYS, ...): plain writes
#else
  (void)shard;
  (void)n;
#endif
}

void BundleWriter::write_pending(Shard* shard) {
  reserve(shard, shard->pending.size());
  write_all(shard->fd, shard->temp_path, shard->pending.data(), shard->pending.size());
  shard->pending.clear();
}

uint32_t BundleWriter::append(Shard* shard, const char* data, size_t n, Checksum checksum) {
  uint32_t crc = 0;
  if (shard->pending.size() + n <= kBufferSize) {
    if (checksum != Checksum::kNone) crc = crc32c::value(data, n);
    shard->pending.append(data, n);
  } else {
    write_pending(shard);
    reserve(shard, n);
    if (checksum == Checksum::kNone) {
      write_all(shard->fd, shard->temp_path, data, n);
    } else if (checksum == Checksum::kOverlapLarge && n >= kOverlapCrcMin && hardware_threads() > 1) {
      // The kernel's copy into the page cache is the bottleneck: checksum on
      // another core meanwhile (both only read `data`).
      std::thread checksum([&crc, data, n] { crc = crc32c::value(data, n); });
      try {
        write_all(shard->fd, shard->temp_path, data, n);
      } catch (...) {
        checksum.join();
        throw;
      }
      checksum.join();
    } else {
      for (size_t done = 0; done < n;) {
        const size_t k = std::min(kChunk, n - done);
        crc = crc32c::extend(crc, data + done, k);  // the chunk is cache-hot for write()
        write_all(shard->fd, shard->temp_path, data + done, k);
        done += k;
      }
    }
  }
  shard->size += n;
  return crc;
}

void BundleWriter::check_fixed(const std::string& key, int32_t dtype, const Dims& shape, size_t n) const {
  check_new_key(key);
  const int width = element_size(dtype);
  if (width == 0) throw InvalidArgument("key '" + key + "': dtype " + std::to_string(dtype) + " is not fixed-size");
  const int64_t elements = product(shape);
  if (elements > INT64_MAX / width || static_cast<uint64_t>(elements * width) != n) {
    throw InvalidArgument("key '" + key + "': " + std::to_string(n) + " bytes do not match the shape");
  }
}

void BundleWriter::add(const std::string& key, int32_t dtype, const Dims& shape, const void* data, size_t n,
                       int32_t shard) {
  std::lock_guard<std::mutex> lock(mu_);
  check_fixed(key, dtype, shape, n);
  const uint32_t crc = append_entry(key, dtype, shape, pick_shard(key, shard), static_cast<const char*>(data), n);
  entries_[key].masked_crc = crc32c::mask(crc);
}

void BundleWriter::add_batch(const std::vector<Item>& items) {
  std::lock_guard<std::mutex> lock(mu_);
  // Validate everything and pick every shard first: the same choices, in the
  // same order, as a sequence of add() calls would make.
  std::vector<uint64_t> planned;
  planned.reserve(shards_.size());
  for (const Shard& s : shards_) planned.push_back(s.size);
  std::vector<std::vector<size_t>> by_shard(shards_.size());
  std::set<std::string_view> batch_keys;
  for (size_t i = 0; i < items.size(); i++) {
    const Item& it = items[i];
    check_fixed(it.key, it.dtype, it.shape, it.n);
    if (!batch_keys.insert(it.key).second) throw InvalidArgument("duplicate key '" + it.key + "'");
    size_t id = 0;
    if (it.shard >= 0) {
      id = pick_shard(it.key, it.shard);
    } else {
      for (size_t k = 1; k < planned.size(); k++) {
        if (planned[k] < planned[id]) id = k;
      }
    }
    planned[id] += it.n;
    by_shard[id].push_back(i);
  }
  std::vector<size_t> active;  // shards that receive something
  for (size_t id = 0; id < by_shard.size(); id++) {
    if (!by_shard[id].empty()) active.push_back(id);
  }
  const int threads = parts_for(active.size(), 1, static_cast<int>(active.size()));
  std::vector<BundleEntry> done(items.size());
  // One shard written by one thread: the other core checksums every payload
  // meanwhile, in the same order, instead of the writer between its writes
  // (the kernel's copy into the page cache is the bottleneck).
  uint64_t batch_bytes = 0;
  for (const Item& it : items) batch_bytes += it.n;
  const bool separate_crc = threads <= 1 && hardware_threads() > 1 && batch_bytes >= kOverlapCrcMin;
  std::vector<uint32_t> crcs(separate_crc ? items.size() : 0);
  std::thread checksummer;
  if (separate_crc) {
    checksummer = std::thread([&items, &crcs, &by_shard, &active] {
      for (size_t id : active) {
        for (size_t i : by_shard[id]) crcs[i] = crc32c::value(items[i].data, items[i].n);
      }
    });
  }
  // Joined on every path: the thread reads the items, which the caller owns.
  struct Joiner {
    std::thread* t;
    ~Joiner() {
      if (t->joinable()) t->join();
    }
  } joiner{&checksummer};
  const Checksum mode = separate_crc ? Checksum::kNone : threads <= 1 ? Checksum::kOverlapLarge : Checksum::kInline;
  try {
    // Each thread writes a contiguous run of shards: every shard has one writer.
    run_in_parts(active.size(), threads, 1, [&](size_t begin, size_t end, int) {
      for (size_t a = begin; a < end; a++) {
        const size_t id = active[a];
        for (size_t i : by_shard[id]) {
          const Item& it = items[i];
          BundleEntry& e = done[i];
          e.dtype = it.dtype;
          e.shape = it.shape;
          e.shard_id = static_cast<int32_t>(id);
          e.offset = static_cast<int64_t>(shards_[id].size);
          e.size = static_cast<int64_t>(it.n);
          e.has_crc = true;
          e.masked_crc = crc32c::mask(append(&shards_[id], static_cast<const char*>(it.data), it.n, mode));
        }
      }
    });
  } catch (...) {
    discard();  // shards hold bytes no entry describes: nothing here can be kept
    throw;
  }
  if (separate_crc) {
    checksummer.join();
    for (size_t i = 0; i < items.size(); i++) done[i].masked_crc = crc32c::mask(crcs[i]);
  }
  for (size_t i = 0; i < items.size(); i++) entries_.emplace(items[i].key, std::move(done[i]));
}

uint32_t BundleWriter::append_entry(const std::string& key, int32_t dtype, const Dims& shape, size_t shard,
                                    const char* payload, size_t n) {
  BundleEntry e;
  e.dtype = dtype;
  e.shape = shape;
  e.shard_id = static_cast<int32_t>(shard);
  e.offset = static_cast<int64_t>(shards_[shard].size);
  e.size = static_cast<int64_t>(n);
  e.has_crc = true;
  const uint32_t crc = append(&shards_[shard], payload, n);
  entries_.emplace(key, std::move(e));
  return crc;
}

void BundleWriter::add_strings(const std::string& key, const Dims& shape, const std::vector<std::string_view>& items,
                               int32_t shard) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_key(key);
  if (product(shape) != static_cast<int64_t>(items.size())) {
    throw InvalidArgument("key '" + key + "': " + std::to_string(items.size()) + " strings do not match the shape");
  }
  uint32_t crc = 0;  // the string encoding's own checksum, not the plain payload's
  const std::string payload = encode_strings(items, &crc);
  append_entry(key, kString, shape, pick_shard(key, shard), payload.data(), payload.size());
  entries_[key].masked_crc = crc32c::mask(crc);
}

void BundleWriter::add_encoded(const std::string& key, int32_t dtype, const Dims& shape, const void* payload, size_t n,
                               uint32_t masked_crc, int32_t shard) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_key(key);
  product(shape);  // validates the dims
  append_entry(key, dtype, shape, pick_shard(key, shard), static_cast<const char*>(payload), n);
  entries_[key].masked_crc = masked_crc;
}

void BundleWriter::add_from_file(const std::string& key, int32_t dtype, const Dims& shape, const MappedFile& file,
                                 uint64_t offset, size_t n, uint32_t masked_crc, int32_t shard) {
  std::lock_guard<std::mutex> lock(mu_);
  check_new_key(key);
  product(shape);  // validates the dims
  const size_t id = pick_shard(key, shard);
  BundleEntry e;
  e.dtype = dtype;
  e.shape = shape;
  e.shard_id = static_cast<int32_t>(id);
  e.offset = static_cast<int64_t>(shards_[id].size);
  e.size = static_cast<int64_t>(n);
  e.has_crc = true;
  e.masked_crc = masked_crc;
  std::string chunk(std::min(n, kChunk), '\0');
  uint32_t crc = 0;
  write_pending(&shards_[id]);
  reserve(&shards_[id], n);
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(chunk.size(), n - done);
    file.pread_into(offset + done, k, chunk.data());
    crc = crc32c::extend(crc, chunk.data(), k);
    shards_[id].size += k;
    write_pending(&shards_[id]);
    write_all(shards_[id].fd, shards_[id].temp_path, chunk.data(), k);
    done += k;
  }
  if (crc32c::mask(crc) != masked_crc) {
    throw DataLoss(file.path() + ": checksum mismatch for tensor '" + key + "' while copying it (data corrupted)");
  }
  entries_.emplace(key, std::move(e));
}

void BundleWriter::add_slice_of(const std::string& name, int32_t dtype, const std::vector<int64_t>& full_shape,
                                const SliceExtents& slice) {
  std::lock_guard<std::mutex> lock(mu_);
  if (name.empty()) throw InvalidArgument("the empty key is reserved for the bundle header");
  if (entries_.count(name) != 0) throw InvalidArgument("duplicate key '" + name + "'");
  if (slice.size() != full_shape.size()) {
    throw InvalidArgument("slice of '" + name + "' has " + std::to_string(slice.size()) + " dimensions, the variable " +
                          std::to_string(full_shape.size()));
  }
  for (size_t d = 0; d < slice.size(); d++) {
    const Extent& x = slice[d];
    if (!x.full() && (x.start < 0 || x.start > full_shape[d] || x.length > full_shape[d] - x.start)) {
      throw InvalidArgument("slice of '" + name + "' lies outside the variable in dimension " + std::to_string(d));
    }
  }
  auto inserted = partitioned_.emplace(name, Partitioned{dtype, full_shape, {}});
  Partitioned& p = inserted.first->second;
  if (p.dtype != dtype || p.full_shape != full_shape) {
    throw InvalidArgument("slices of '" + name + "' disagree on dtype or full shape");
  }
  p.slices.push_back(slice);
}

void check_slices_tile(const std::string& name, const std::vector<int64_t>& full_shape,
                       const std::vector<SliceExtents>& slices) {
  const size_t rank = full_shape.size();
  auto lo = [&](const SliceExtents& s, size_t d) { return s[d].full() ? 0 : s[d].start; };
  auto hi = [&](const SliceExtents& s, size_t d) { return s[d].full() ? full_shape[d] : s[d].start + s[d].length; };
  int64_t covered = 0;
  for (size_t i = 0; i < slices.size(); i++) {
    int64_t volume = 1;
    for (size_t d = 0; d < rank; d++) volume *= hi(slices[i], d) - lo(slices[i], d);
    covered += volume;
    for (size_t j = 0; j < i; j++) {
      bool overlap = true;
      for (size_t d = 0; d < rank && overlap; d++) {
        overlap = std::max(lo(slices[i], d), lo(slices[j], d)) < std::min(hi(slices[i], d), hi(slices[j], d));
      }
      if (overlap && volume > 0) throw InvalidArgument("overlapping slices of '" + name + "'");
    }
  }
  if (covered != product(full_shape)) {
    throw InvalidArgument("the slices of '" + name + "' do not cover its full shape");
  }
}

std::string BundleWriter::build_index() {
  for (auto& [name, p] : partitioned_) {
    check_slices_tile(name, p.full_shape, p.slices);
    BundleEntry full;
    full.dtype = p.dtype;
    full.shape = p.full_shape;
    full.slices = p.slices;
    entries_.emplace(name, std::move(full));
  }
  TableBuilder table;
  BundleHeader header;
  header.num_shards = static_cast<int32_t>(shards_.size());
  header.producer = 1;
  table.add("", encode_header(header));
  for (const auto& [key, entry] : entries_) table.add(key, encode_entry(entry));
  return table.finish();
}

void BundleWriter::commit(bool sync) {
  for (Shard& s : shards_) {
    write_pending(&s);
    if (sync && ::fsync(s.fd) != 0) throw_errno("fsync " + s.temp_path, errno);
    if (::close(s.fd) != 0) {
      s.fd = -1;
      throw_errno("close " + s.temp_path, errno);
    }
    s.fd = -1;
  }
  const std::string index = build_index();
  const std::string index_path = prefix_ + ".index";
  index_temp_path_ = temp_name(index_path);
  const int fd = ::open(index_temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw_errno("create " + index_temp_path_, errno);
  try {
    write_all(fd, index_temp_path_, index.data(), index.size());
    if (sync && ::fsync(fd) != 0) throw_errno("fsync " + index_temp_path_, errno);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw_errno("close " + index_temp_path_, errno);

  // An existing index at this prefix goes first, so that no instant pairs an
  // old index with new data files of the same names.
  if (::unlink(index_path.c_str()) != 0 && errno != ENOENT) throw_errno("remove old " + index_path, errno);
  for (Shard& s : shards_) {
    if (::rename(s.temp_path.c_str(), s.final_path.c_str()) != 0) throw_errno("rename " + s.temp_path, errno);
    s.temp_path.clear();
  }
  if (::rename(index_temp_path_.c_str(), index_path.c_str()) != 0) throw_errno("rename " + index_temp_path_, errno);
  index_temp_path_.clear();
  if (sync) fsync_path(directory_of(index_path), true);
}

void BundleWriter::finish(bool sync) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != kOpen) throw InvalidArgument("the writer for " + prefix_ + " is already closed");
  try {
    commit(sync);
  } catch (...) {
    discard();
    throw;
  }
  state_ = kFinished;
}

bool BundleWriter::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ != kOpen;
}

void BundleWriter::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  discard();
}

void BundleWriter::discard() {
  for (Shard& s : shards_) {
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
    if (!s.temp_path.empty()) ::unlink(s.temp_path.c_str());
    s.temp_path.clear();
    s.pending.clear();
  }
  if (!index_temp_path_.empty()) ::unlink(index_temp_path_.c_str());
  index_temp_path_.clear();
  if (state_ == kOpen) state_ = kAborted;
}

}  // namespace tfbundle
