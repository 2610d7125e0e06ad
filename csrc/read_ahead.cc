#include "read_ahead.h"

#include <unistd.h>

#include <algorithm>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "bundle_reader.h"
#include "crc32c.h"
#include "dtypes.h"
#include "file_copy.h"
#include "thread_pool.h"

namespace tfbundle {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
// Entries looked through for the next eligible one: small tensors (biases,
// norms) sit between the ones read ahead; a long run of them is not worth
// reading ahead across.
constexpr size_t kScan = 64;

}  // namespace

// One read started ahead. The task fills buffer and writes crc and read;
// whoever removes the Pending from pending_ owns it, and cancels or waits
// for the task before touching those (drop, take).
struct ReadAhead::Pending {
  size_t index = 0;
  FixedPayload payload;
  Buffer buffer;      // acquired when the read is started, not by the task (see forked)
  uint32_t crc = 0;   // of the bytes read
  bool read = false;  // buffer holds the payload's bytes
  pid_t pid = 0;      // the process that started the read
  std::unique_ptr<Task> task;

  // Whether this process is a child forked after the read was started: its
  // worker thread did not survive the fork, so a read it had claimed never
  // ends here and must not be waited for. (The task takes no lock, so the
  // fork cannot leave one held.)
  bool forked() const { return pid != ::getpid(); }
};

ReadAhead::ReadAhead(const BundleReader& reader) : reader_(reader), last_(kNone) {}

ReadAhead::~ReadAhead() {
  std::deque<std::shared_ptr<Pending>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(pending_);
  }
  for (auto& p : left) drop(*p);
}

bool ReadAhead::eligible(size_t i) const {
  if (!pool_has_workers() || reader_.header().big_endian || reader_.partitioned(i)) return false;
  const int width = element_size(reader_.dtype(i));
  if (width == 0) return false;
  uint64_t elements = 1;  // the entry's size is checked against this when read
  for (size_t d = 0; d < reader_.rank(i); d++) elements *= static_cast<uint64_t>(reader_.dims(i)[d]);
  const uint64_t size = elements * static_cast<uint64_t>(width);
  return size >= kMinBytes && size < kMaxBytes;
}

size_t ReadAhead::next_eligible(size_t after) const {
  const size_t end = std::min(reader_.num_entries(), after + 1 + kScan);
  for (size_t i = after + 1; i < end; i++) {
    if (eligible(i)) return i;
  }
  return kNone;
}

void ReadAhead::start_reads(size_t from) {
  size_t at = pending_.empty() ? from : pending_.back()->index;
  size_t bytes = 0;
  for (const auto& p : pending_) bytes += p->payload.size;
  while (pending_.size() < kDepth && (at = next_eligible(at)) != kNone) {
    auto p = std::make_shared<Pending>();
    p->index = at;
    try {
      p->payload = reader_.fixed_payload(at);  // checks size and range; opens the shard
    } catch (const std::exception&) {
      return;  // the caller's own read of this entry reports the problem
    }
    if (!pending_.empty() && bytes + p->payload.size > kAheadBytes) return;
    bytes += p->payload.size;
    try {
      p->buffer = acquire_buffer(p->payload.size);
    } catch (const std::bad_alloc&) {
      return;  // the caller's own read falls back to numpy's memory
    }
    p->pid = ::getpid();
    Pending* raw = p.get();  // alive until the task has run or been cancelled (drop)
    p->task = std::make_unique<Task>([raw] {
      raw->crc = copy_from_file(*raw->payload.file, raw->payload.offset, raw->payload.size, raw->buffer.data, true);
      raw->read = true;
    });
    pending_.push_back(std::move(p));
  }
}

void ReadAhead::drop(Pending& p) {
  // Whatever the read threw is never reported: nobody asked for this entry.
  if (!p.task->cancel() && !p.forked()) p.task->finish_quietly();
  release_buffer(p.buffer);
}

std::optional<Buffer> ReadAhead::take(size_t i, bool verify) {
  std::shared_ptr<Pending> hit;
  std::vector<std::shared_ptr<Pending>> dropped, others;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(pending_.begin(), pending_.end(), [i](const auto& p) { return p->index == i; });
    // Reads ahead of entries before i were skipped; all of them are, if i was not read ahead.
    const auto kept = it == pending_.end() ? it : std::next(it);
    dropped.assign(pending_.begin(), it);
    if (it != pending_.end()) hit = *it;
    pending_.erase(pending_.begin(), kept);
    if (!hit) {
      dropped.insert(dropped.end(), pending_.begin(), pending_.end());
      pending_.clear();
    }
    const bool in_order = hit || (last_ != kNone && i == next_eligible(last_));
    last_ = i;
    if (in_order) start_reads(i);
    others.assign(pending_.begin(), pending_.end());
  }
  for (auto& p : dropped) drop(*p);
  if (!hit || hit->forked()) {
    if (hit) drop(*hit);
    return std::nullopt;
  }
  // Entry i is read here if no worker has started it. If a worker is still
  // reading it, this thread reads the next read ahead that nobody has
  // started rather than wait: both cores copy, and the caller, faster than
  // one core's reads, waits only when the worker is behind.
  if (!hit->task->run_if_unclaimed() && !hit->task->finished()) {
    for (auto& p : others) {
      if (p->task->run_if_unclaimed()) break;
    }
  }
  // A read that threw is read again by the caller, which reports what it finds.
  const bool read = hit->task->finish_quietly() && hit->read;
  const FixedPayload& p = hit->payload;
  const bool matches = read && (!verify || (p.has_crc && crc32c::mask(hit->crc) == p.masked_crc));
  if (!matches) {
    drop(*hit);
    return std::nullopt;
  }
  return hit->buffer;
}

}  // namespace tfbundle
