#include "bundle_reader.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "crc32c.h"
#include "dtypes.h"
#include "errors.h"
#include "file_copy.h"
#include "read_ahead.h"
#include "slice_key.h"
#include "table_reader.h"
#include "tensor_strings.h"
#include "thread_pool.h"

namespace tfbundle {

namespace {

// Chunk for checksumming an unmapped shard in verify().
constexpr size_t kReadChunk = size_t{512} * 1024;
// A batch read's unit of work: large tensors are cut into parts this big
// so that both cores share them; smaller tensors are one unit each.
constexpr size_t kBatchUnit = 4 << 20;

template <typename Word, Word (*Swap)(Word)>
void swap_words(uint8_t* p, size_t n) {
  for (size_t i = 0; i + sizeof(Word) <= n; i += sizeof(Word)) {
    Word v;
    std::memcpy(&v, p + i, sizeof(Word));
    v = Swap(v);
    std::memcpy(p + i, &v, sizeof(Word));
  }
}

uint16_t bswap16(uint16_t v) {
  return __builtin_bswap16(v);
}
uint32_t bswap32(uint32_t v) {
  return __builtin_bswap32(v);
}
uint64_t bswap64(uint64_t v) {
  return __builtin_bswap64(v);
}

// Reverses the byte order of each `unit`-byte word (1 means nothing to do).
void swap_in_place(void* data, size_t n, int unit) {
  auto* p = static_cast<uint8_t*>(data);
  if (unit == 2) swap_words<uint16_t, bswap16>(p, n);
  if (unit == 4) swap_words<uint32_t, bswap32>(p, n);
  if (unit == 8) swap_words<uint64_t, bswap64>(p, n);
}

std::string quoted(std::string_view key) {
  std::string out = "'";
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

BundleReader::BundleReader(std::string prefix) : prefix_(std::move(prefix)), index_path_(prefix_ + ".index") {
  auto index = MappedFile::open(index_path_);
  std::string copy;
  std::string_view bytes;
  if (index->mapped()) {
    bytes = index->bytes();
  } else {
    copy.resize(static_cast<size_t>(index->size()));
    index->read(0, copy.size(), copy.data());
    bytes = copy;
  }
  load_index(bytes);
  read_ahead_ = std::make_unique<ReadAhead>(*this);
}

BundleReader::~BundleReader() = default;

std::unique_ptr<BundleReader> BundleReader::from_index(std::string prefix, std::string_view index_bytes) {
  std::unique_ptr<BundleReader> reader(new BundleReader());
  reader->prefix_ = std::move(prefix);
  reader->index_path_ = reader->prefix_ + ".index";
  reader->remote_ = true;
  reader->load_index(index_bytes);
  return reader;
}

void BundleReader::load_index(std::string_view bytes) {
  // Decoding the entries is most of an open; it stays on one thread: split
  // over two on the 2-core dev VM, it measured 1.5x slower (thread start,
  // fresh pages in the worker's malloc arena, joining the halves).
  table_.reserve(bytes.size());
  BundleEntry scratch;  // decoded into again and again: its storage is reused
  bool seen_header = false;
  scan_table(bytes, index_path_, [&](std::string_view key, std::string_view value) {
    try {
      if (!seen_header) {
        if (!key.empty()) throw DataLoss("the first entry is not the bundle header (key \"\")");
        header_ = decode_header(value);
        seen_header = true;
        return;
      }
      decode_entry(value, &scratch);
      table_.append(key, scratch);
    } catch (const DataLoss& e) {
      throw DataLoss(index_path_ + ": entry " + quoted(key) + ": " + e.what());
    }
  });
  if (!seen_header) throw DataLoss(index_path_ + ": the index has no bundle header");
  check_header_versions(header_, index_path_);
  // One slot per shard an entry names (checked against num_shards when
  // read): never sized by the header's claim alone.
  int32_t max_shard = -1;
  for (size_t i = 0; i < table_.size(); i++) {
    if (!table_.partitioned(i) && table_.shard_id(i) < header_.num_shards) {
      max_shard = std::max(max_shard, table_.shard_id(i));
    }
  }
  shards_.resize(static_cast<size_t>(max_shard) + 1);

  // Hide the per-slice entries of partitioned variables, as TensorFlow does.
  for (size_t i = 0; i < table_.size(); i++) {
    if (!table_.partitioned(i)) continue;
    for (const SliceExtents& slice : table_.slices(i)) {
      const size_t at = table_.position(encode_slice_key(key(i), slice));
      if (at < table_.size()) table_.set_hidden(at);
    }
  }
}

namespace {

// Appends `value` as TensorFlow's "%05d" prints it (at least five
// characters, zero-padded after any sign) without snprintf, which was a
// tenth of a small bundle's row in bulk stacking.
void append_padded(std::string* out, int32_t value) {
  uint32_t v = static_cast<uint32_t>(value);
  size_t width = 5;
  if (value < 0) {
    out->push_back('-');
    v = 0U - v;
    width = 4;
  }
  char digits[12];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (; n < width; n++) digits[n] = '0';
  while (n > 0) out->push_back(digits[--n]);
}

}  // namespace

std::string BundleReader::data_path(int32_t shard_id) const {
  std::string path;
  path.reserve(prefix_.size() + 24);
  path.append(prefix_).append(".data-");
  append_padded(&path, shard_id);
  path.append("-of-");
  append_padded(&path, header_.num_shards);
  return path;
}

BundleEntry BundleReader::get(std::string_view key) const {
  return table_.entry(find(key));
}

size_t BundleReader::find(std::string_view key) const {
  const size_t at = table_.position(key);
  if (at == table_.size()) throw NotFound("key " + quoted(key) + " not found in checkpoint " + prefix_);
  return at;
}

void BundleReader::fail(std::string_view key, const std::string& problem) const {
  throw DataLoss(prefix_ + ": tensor " + quoted(key) + ": " + problem);
}

std::shared_ptr<MappedFile> BundleReader::shard(int32_t id) const {
  if (remote_)
    throw InvalidArgument(prefix_ + ": the data of a bundle opened from index bytes is fetched by the caller");
  std::lock_guard<std::mutex> lock(shards_mu_);
  auto& slot = shards_[static_cast<size_t>(id)];
  if (!slot) slot = MappedFile::open(data_path(id));
  return slot;
}

std::shared_ptr<MappedFile> BundleReader::locate(std::string_view key, const BundleEntry& e) const {
  if (!e.slices.empty()) fail(key, "is a partitioned variable; read its slices");
  return locate(key, e.shard_id, static_cast<uint64_t>(e.offset), static_cast<uint64_t>(e.size));
}

std::shared_ptr<MappedFile> BundleReader::locate(std::string_view key, int32_t shard_id, uint64_t offset,
                                                 uint64_t size) const {
  if (shard_id >= header_.num_shards) {
    fail(key,
         "names data shard " + std::to_string(shard_id) + " but the bundle has " + std::to_string(header_.num_shards));
  }
  auto file = shard(shard_id);
  const uint64_t end = offset + size;  // both < 2^63: checked when decoded
  if (end > file->size()) {
    throw DataLoss(file->path() + ": tensor " + quoted(key) + " spans bytes [" + std::to_string(offset) + ", " +
                   std::to_string(end) + ") but the file has " + std::to_string(file->size()) +
                   " bytes (truncated data file?)");
  }
  return file;
}

size_t BundleReader::fixed_size(size_t i) const {
  const std::string_view key = table_.key(i);
  if (table_.partitioned(i)) throw InvalidArgument("tensor " + quoted(key) + " is partitioned; read its slices");
  const int32_t dtype = table_.dtype(i);
  const int width = element_size(dtype);
  if (width == 0) fail(key, "dtype " + std::to_string(dtype) + " is not a fixed-size type");
  int64_t n = 1;
  for (size_t d = 0; d < table_.rank(i); d++) n *= table_.dims(i)[d];  // fits: checked when decoded
  const int64_t size = table_.size(i);
  if (n > INT64_MAX / width || n * width != size) {
    fail(key, "size " + std::to_string(size) + " does not match " + std::to_string(n) + " elements of " +
                  std::to_string(width) + " bytes");
  }
  return static_cast<size_t>(size);
}

FixedPayload BundleReader::fixed_payload(size_t i) const {
  FixedPayload p;
  p.dtype = table_.dtype(i);
  p.size = fixed_size(i);
  p.offset = static_cast<uint64_t>(table_.offset(i));
  p.masked_crc = table_.masked_crc(i);
  p.has_crc = table_.has_crc(i);
  if (p.size > 0) p.file = locate(table_.key(i), table_.shard_id(i), p.offset, p.size);
  return p;
}

void BundleReader::read_payload(size_t i, const FixedPayload& p, void* dst, size_t n, bool verify) const {
  if (p.size != n) fail(table_.key(i), "destination buffer has the wrong size");
  const uint32_t crc = n == 0 ? 0 : copy_from_file(*p.file, p.offset, n, dst, verify);
  check_crc(i, p, crc, verify);
  if (header_.big_endian) swap_in_place(dst, n, swap_unit(p.dtype));
}

void BundleReader::check_crc(size_t i, const FixedPayload& p, uint32_t crc, bool verify) const {
  if (!verify || (p.has_crc && crc32c::mask(crc) == p.masked_crc)) return;
  if (p.size == 0) fail(table_.key(i), "checksum mismatch (empty tensor)");
  throw DataLoss(p.file->path() + ": checksum mismatch for tensor " + quoted(table_.key(i)) + " (data corrupted)");
}

void BundleReader::read_batch(const std::vector<ReadRequest>& requests, bool verify) const {
  // Units of work: whole small tensors, parts of large ones. Threads claim
  // them in order, so each file is read roughly front to back.
  struct Unit {
    size_t request;
    size_t begin, end;
    uint32_t crc = 0;
  };
  std::vector<FixedPayload> payloads;
  payloads.reserve(requests.size());
  std::vector<Unit> units;
  for (size_t r = 0; r < requests.size(); r++) {
    const ReadRequest& q = requests[r];
    payloads.push_back(fixed_payload(q.index));
    if (payloads.back().size != q.n) fail(table_.key(q.index), "destination buffer has the wrong size");
    for (size_t begin = 0; begin < q.n; begin += kBatchUnit) {
      units.push_back(Unit{r, begin, std::min(q.n, begin + kBatchUnit)});
    }
  }
  std::atomic<size_t> next{0};
  parallel_for(pool_threads(), [&](int) {
    for (size_t u = next.fetch_add(1); u < units.size(); u = next.fetch_add(1)) {
      Unit& unit = units[u];
      const ReadRequest& q = requests[unit.request];
      const FixedPayload& p = payloads[unit.request];
      unit.crc = copy_from_file(*p.file, p.offset + unit.begin, unit.end - unit.begin,
                                static_cast<char*>(q.dst) + unit.begin, verify);
    }
  });
  size_t u = 0;
  for (size_t r = 0; r < requests.size(); r++) {
    uint32_t crc = 0;
    for (bool first = true; u < units.size() && units[u].request == r; u++, first = false) {
      crc = first ? units[u].crc : crc32c::combine(crc, units[u].crc, units[u].end - units[u].begin);
    }
    check_crc(requests[r].index, payloads[r], crc, verify);
    if (header_.big_endian) swap_in_place(requests[r].dst, requests[r].n, swap_unit(payloads[r].dtype));
  }
}

uint64_t BundleReader::checked_size(std::string_view key) const {
  return fixed_payload(find(key)).size;
}

void BundleReader::read_into(std::string_view key, void* dst, size_t n, bool verify) const {
  const size_t i = find(key);
  read_payload(i, fixed_payload(i), dst, n, verify);
}

TensorView BundleReader::view(std::string_view key) const {
  const FixedPayload p = fixed_payload(find(key));
  if (p.size == 0) return {nullptr, std::string_view()};
  if (!p.file->mapped()) fail(key, "its data file is not memory-mapped, so it has no zero-copy view");
  return {p.file, p.file->bytes().substr(static_cast<size_t>(p.offset), p.size)};
}

std::shared_ptr<MappedFile> BundleReader::payload_location(std::string_view key, uint64_t* offset,
                                                           uint64_t* size) const {
  const BundleEntry& e = get(key);
  *offset = static_cast<uint64_t>(e.offset);
  *size = static_cast<uint64_t>(e.size);
  return e.size == 0 ? nullptr : locate(key, e);
}

TensorView BundleReader::raw_payload(std::string_view key, std::string* buffer) const {
  const BundleEntry& e = get(key);
  if (e.size == 0) return {nullptr, std::string_view()};
  auto file = locate(key, e);
  if (file->mapped()) {
    return {file, file->bytes().substr(static_cast<size_t>(e.offset), static_cast<size_t>(e.size))};
  }
  buffer->resize(static_cast<size_t>(e.size));
  file->read(static_cast<uint64_t>(e.offset), buffer->size(), buffer->data());
  return {nullptr, *buffer};
}

StringTensor BundleReader::read_strings(std::string_view key, bool verify) const {
  const BundleEntry& e = get(key);
  if (e.dtype != kString && e.dtype != kVariant) fail(key, "is not a string or variant tensor");
  StringTensor out;
  auto file = locate(key, e);
  std::string_view payload;
  if (file->mapped()) {
    out.owner = file;
    payload = file->bytes().substr(static_cast<size_t>(e.offset), static_cast<size_t>(e.size));
  } else {
    out.buffer = std::make_unique<std::string>(static_cast<size_t>(e.size), '\0');
    file->read(static_cast<uint64_t>(e.offset), out.buffer->size(), out.buffer->data());
    payload = *out.buffer;
  }
  out.items = decode_string_payload(key, e, payload, verify, file->path()).items;
  return out;
}

DecodedStrings BundleReader::decode_string_payload(std::string_view key, const BundleEntry& e, std::string_view payload,
                                                   bool verify, const std::string& where) const {
  DecodedStrings decoded;
  try {
    decoded = e.dtype == kString ? decode_strings(payload, e.num_elements(), header_.big_endian, verify)
                                 : decode_variants(payload, e.num_elements());
  } catch (const DataLoss& err) {
    throw DataLoss(where + ": tensor " + quoted(key) + ": " + err.what());
  }
  if (verify && (!e.has_crc || crc32c::mask(decoded.crc) != e.masked_crc)) {
    throw DataLoss(where + ": checksum mismatch for tensor " + quoted(key) + " (data corrupted)");
  }
  return decoded;
}

PayloadRange BundleReader::payload_range(std::string_view key) const {
  return payload_range(find(key));
}

PayloadRange BundleReader::payload_range(size_t i) const {
  const std::string_view key = table_.key(i);
  if (table_.partitioned(i)) throw InvalidArgument("tensor " + quoted(key) + " is partitioned; read its slices");
  const int32_t dtype = table_.dtype(i);
  if (dtype != kString && dtype != kVariant) fixed_size(i);
  const int32_t shard_id = table_.shard_id(i);
  if (shard_id >= header_.num_shards) {
    fail(key,
         "names data shard " + std::to_string(shard_id) + " but the bundle has " + std::to_string(header_.num_shards));
  }
  return PayloadRange{shard_id, static_cast<uint64_t>(table_.offset(i)), static_cast<uint64_t>(table_.size(i))};
}

void BundleReader::check_fetched_length(size_t i, size_t fetched) const {
  const int64_t offset = table_.offset(i);
  const int64_t size = table_.size(i);
  if (fetched == static_cast<uint64_t>(size)) return;
  throw DataLoss(data_path(table_.shard_id(i)) + ": tensor " + quoted(table_.key(i)) + " spans bytes [" +
                 std::to_string(offset) + ", " + std::to_string(offset + size) + ") but " + std::to_string(fetched) +
                 " were read (truncated data file?)");
}

void BundleReader::read_fetched(std::string_view key, std::string_view src, void* dst, size_t n, bool verify) const {
  const size_t i = find(key);
  const PayloadRange range = payload_range(i);
  check_fetched_length(i, src.size());
  if (n != range.size) fail(key, "destination buffer has the wrong size");
  if (n > 0) std::memcpy(dst, src.data(), n);
  check_fetched(i, dst, n, verify);
}

void BundleReader::check_fetched(size_t i, void* data, size_t n, bool verify) const {
  const std::string_view key = table_.key(i);
  if (n != static_cast<uint64_t>(table_.size(i))) fail(key, "destination buffer has the wrong size");
  if (n == 0) {
    if (verify && !(table_.has_crc(i) && crc32c::mask(0) == table_.masked_crc(i))) {
      fail(key, "checksum mismatch (empty tensor)");
    }
    return;
  }
  if (verify && !(table_.has_crc(i) && crc32c::mask(crc32c::value(data, n)) == table_.masked_crc(i))) {
    throw DataLoss(data_path(table_.shard_id(i)) + ": checksum mismatch for tensor " + quoted(key) +
                   " (data corrupted)");
  }
  if (header_.big_endian) swap_in_place(data, n, swap_unit(table_.dtype(i)));
}

StringTensor BundleReader::read_fetched_strings(std::string_view key, std::string src, bool verify) const {
  const BundleEntry e = get(key);
  if (e.dtype != kString && e.dtype != kVariant) fail(key, "is not a string or variant tensor");
  check_fetched_length(find(key), src.size());
  StringTensor out;
  out.buffer = std::make_unique<std::string>(std::move(src));
  out.items = decode_string_payload(key, e, *out.buffer, verify, data_path(e.shard_id)).items;
  return out;
}

void BundleReader::verify(std::string_view key) const {
  const size_t i = find(key);
  if (table_.partitioned(i)) return;  // its slices are entries of their own
  if (table_.dtype(i) == kString || table_.dtype(i) == kVariant) {
    read_strings(key, true);
    return;
  }
  const FixedPayload p = fixed_payload(i);
  uint32_t crc = 0;
  if (p.size > 0 && p.file->mapped()) {
    crc = crc32c::value(p.file->bytes().data() + p.offset, p.size);
  } else if (p.size > 0) {
    std::string chunk(std::min(kReadChunk, p.size), '\0');
    for (size_t done = 0; done < p.size;) {
      const size_t k = std::min(chunk.size(), p.size - done);
      p.file->read(p.offset + done, k, chunk.data());
      crc = crc32c::extend(crc, chunk.data(), k);
      done += k;
    }
  }
  check_crc(i, p, crc, true);
}

TensorStats BundleReader::read_stats(std::string_view key, bool verify) const {
  const size_t i = find(key);
  const FixedPayload p = fixed_payload(i);
  if (!stats_supported(p.dtype)) fail(key, "has no statistics (dtype " + std::to_string(p.dtype) + ")");
  TensorStats stats;
  uint32_t crc = 0;
  std::string chunk(std::min(kStatsChunk, p.size), '\0');
  for (size_t done = 0; done < p.size;) {
    const size_t k = std::min(chunk.size(), p.size - done);
    p.file->pread_into(p.offset + done, k, chunk.data());
    if (verify) crc = crc32c::extend(crc, chunk.data(), k);
    if (header_.big_endian) swap_in_place(chunk.data(), k, swap_unit(p.dtype));
    accumulate(&stats, chunk.data(), k, p.dtype);
    done += k;
  }
  check_crc(i, p, crc, verify);
  return stats;
}

}  // namespace tfbundle
