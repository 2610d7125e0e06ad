// A process-wide pool of worker threads for splitting copies and checksums
// across cores. Starting threads per tensor cost tens of microseconds each,
// as much as copying a 256 KiB tensor; the pool's workers start once and
// sleep between jobs.
//
// A job is `parts` calls of fn(index); the calling thread runs part 0 (and
// any part no worker has taken yet), so a job always finishes even when
// every worker is busy. Work submitted from inside a worker runs serially
// on that worker: nothing ever waits on a queue it is blocking.
#pragma once

#include <exception>
#include <functional>

namespace tfbundle {

// Calls fn(i) for i in [0, parts), concurrently where workers are free, and
// returns when all have returned. The first exception thrown by any part is
// rethrown after every part has ended.
void parallel_for(int parts, const std::function<void(int)>& fn);

// How many threads parallel_for may use at once: TFBUNDLE_NUM_THREADS if
// set (1 turns splitting off, e.g. for many reader threads or processes),
// else the hardware threads. Read once: glibc reads /sys on every
// hardware_concurrency() call, ~10 us per tensor read of a small checkpoint.
int pool_threads();

}  // namespace tfbundle
