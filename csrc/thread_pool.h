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
#include <memory>

namespace tfbundle {

struct Job;  // thread_pool.cc

// Calls fn(i) for i in [0, parts), concurrently where workers are free, and
// returns when all have returned. The first exception thrown by any part is
// rethrown after every part has ended.
void parallel_for(int parts, const std::function<void(int)>& fn);

// How many threads parallel_for may use at once: TFBUNDLE_NUM_THREADS if
// set (1 turns splitting off, e.g. for many reader threads or processes),
// else the hardware threads. Read once: glibc reads /sys on every
// hardware_concurrency() call, ~10 us per tensor read of a small checkpoint.
int pool_threads();

// Whether jobs can run on workers: more than one pool thread, and not in a
// child process forked after the workers started (they do not survive a fork).
bool pool_has_workers();

// One call handed to the pool now and collected later: a worker runs it if
// one is free before the owner needs the result; otherwise the owner runs it
// (finish_quietly, run_if_unclaimed) or drops it (cancel). It runs at most once.
class Task {
 public:
  // Starts fn: offered to a worker, or, with no workers (pool_threads() == 1,
  // or from inside a worker), left for finish_quietly() to run here.
  explicit Task(std::function<void()> fn);
  // Runs the call on this thread if nobody has started it; true if it did.
  bool run_if_unclaimed();
  // Whether the call has run (or was cancelled).
  bool finished() const;
  // Returns when the call has run (here, if nobody had started it): true
  // if it returned, false if it threw (what it threw is not rethrown).
  bool finish_quietly();
  // Makes sure the call never runs: true if it had not started (it never
  // will), false if it has (finish_quietly() then waits for it).
  bool cancel();

 private:
  std::shared_ptr<Job> job_;
};

}  // namespace tfbundle
