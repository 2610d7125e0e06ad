#include "entry_table.h"

#include "errors.h"

namespace tfbundle {

void EntryTable::reserve(size_t index_bytes) {
  // An entry takes at least ~8 bytes of index, most take 30 or more: a
  // reservation of index_bytes / 32 avoids regrowth for typical entries and
  // stays bounded by the file's size for hostile ones.
  records_.reserve(index_bytes / 32);
  dims_.reserve(index_bytes / 16);
  key_ends_.reserve(index_bytes / 32 + 1);
  key_bytes_.reserve(index_bytes);
}

void EntryTable::append(std::string_view key, const BundleEntry& e) {
  if (dims_.size() + e.shape.size() > UINT32_MAX || slices_.size() >= kNoSlices) {
    throw DataLoss("more dimensions or partitioned variables than one reader holds");
  }
  Record r;
  r.offset = e.offset;
  r.size = e.size;
  r.dims_at = static_cast<uint32_t>(dims_.size());
  r.slices_at = kNoSlices;
  r.shard_id = e.shard_id;
  r.dtype = e.dtype;
  r.masked_crc = e.masked_crc;
  r.rank = static_cast<uint16_t>(e.shape.size());
  r.has_crc = e.has_crc;
  r.hidden = false;
  dims_.insert(dims_.end(), e.shape.begin(), e.shape.end());
  if (!e.slices.empty()) {
    r.slices_at = static_cast<uint32_t>(slices_.size());
    slices_.push_back(e.slices);
  }
  records_.push_back(r);
  key_bytes_.append(key.data(), key.size());
  key_ends_.push_back(key_bytes_.size());
}

BundleEntry EntryTable::entry(size_t i) const {
  const Record& r = records_[i];
  BundleEntry e;
  e.dtype = r.dtype;
  for (size_t d = 0; d < r.rank; d++) e.shape.push_back(dims_[r.dims_at + d]);
  e.shard_id = r.shard_id;
  e.offset = r.offset;
  e.size = r.size;
  e.masked_crc = r.masked_crc;
  e.has_crc = r.has_crc;
  if (r.slices_at != kNoSlices) e.slices = slices_[r.slices_at];
  return e;
}

size_t EntryTable::position(std::string_view wanted) const {
  size_t lo = 0;
  size_t hi = records_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (key(mid) < wanted) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < records_.size() && key(lo) == wanted ? lo : records_.size();
}

}  // namespace tfbundle
