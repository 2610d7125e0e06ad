#include "thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tfbundle {

namespace {

thread_local bool in_worker = false;

// Set in a child process forked after the workers started: they did not
// survive the fork, so jobs are run by their callers alone (queued jobs
// would never be taken).
std::atomic<bool> workers_lost{false};

}  // namespace

// One parallel_for call or Task: parts are claimed through `next`, so the
// caller and any number of workers can share them.
struct Job {
  const std::function<void(int)>* fn = nullptr;
  std::function<void(int)> owned;  // a Task's call (fn points here)
  int parts;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::mutex mu;
  std::condition_variable finished;
  std::vector<std::exception_ptr> errors;

  // Runs unclaimed parts until none is left; true if it ran any.
  bool work() {
    bool ran = false;
    for (int i = next.fetch_add(1); i < parts; i = next.fetch_add(1)) {
      ran = true;
      try {
        (*fn)(i);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
      mark_done();
    }
    return ran;
  }

  // Counts one part as ended, waking waiters after the last.
  void mark_done() {
    if (done.fetch_add(1) + 1 == parts) {
      std::lock_guard<std::mutex> lock(mu);
      finished.notify_all();
    }
  }

  // Returns once every part has ended (spinning a little first: parts are
  // short), then rethrows the first exception any part threw.
  void wait();
  // As wait(), but returns whether no part threw instead of rethrowing.
  bool wait_quietly();
};

namespace {

// A spinning thread's hint to the core that it is waiting.
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long a worker keeps looking for the next job before it sleeps (and
// the caller waits for its helpers before it sleeps). Reads
// of a checkpoint's tensors come back to back, and waking a sleeping thread
// took longer (tens of microseconds on a VM) than copying a 256 KiB part.
constexpr auto kSpin = std::chrono::microseconds(50);

class Pool {
 public:
  explicit Pool(int workers) {
    ::pthread_atfork(nullptr, nullptr, [] { workers_lost.store(true); });
    for (int i = 0; i < workers; i++) {
      std::thread([this] { loop(); }).detach();  // lives as long as the process
    }
  }

  void offer(const std::shared_ptr<Job>& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < helpers; i++) queue_.push_back(job);
      queued_.fetch_add(helpers);
    }
    for (int i = 0; i < helpers; i++) wake_.notify_one();  // no system call when nobody sleeps
  }

 private:
  // The next queued job, after spinning for one for kSpin, then sleeping.
  std::shared_ptr<Job> next_job() {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (queued_.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < until) {
      cpu_relax();
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [this] { return !queue_.empty(); });
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    queued_.fetch_sub(1);
    return job;
  }

  void loop() {
    in_worker = true;
    for (;;) next_job()->work();
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;  // one entry per helper a job asked for
  std::atomic<int> queued_{0};              // queue_.size(), readable without the lock
};

Pool& pool() {
  static Pool* p = new Pool(pool_threads() - 1);  // never destroyed: workers may outlive exit
  return *p;
}

}  // namespace

int pool_threads() {
  static const int n = [] {
    if (const char* v = std::getenv("TFBUNDLE_NUM_THREADS")) {
      const long requested = std::strtol(v, nullptr, 10);
      if (requested >= 1) return static_cast<int>(std::min(requested, 256L));
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return n;
}

bool pool_has_workers() {
  return pool_threads() > 1 && !workers_lost.load(std::memory_order_relaxed);
}

void parallel_for(int parts, const std::function<void(int)>& fn) {
  if (parts <= 1 || in_worker || !pool_has_workers()) {
    for (int i = 0; i < parts; i++) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->parts = parts;
  job->errors.resize(static_cast<size_t>(parts));
  pool().offer(job, std::min(parts, pool_threads()) - 1);
  job->work();
  job->wait();
}

void Job::wait() {
  wait_quietly();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

bool Job::wait_quietly() {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (done.load() != parts && std::chrono::steady_clock::now() < until) cpu_relax();
  {
    std::unique_lock<std::mutex> lock(mu);
    finished.wait(lock, [this] { return done.load() == parts; });
  }
  return std::none_of(errors.begin(), errors.end(), [](const std::exception_ptr& e) { return bool(e); });
}

Task::Task(std::function<void()> fn) : job_(std::make_shared<Job>()) {
  job_->owned = [call = std::move(fn)](int) { call(); };
  job_->fn = &job_->owned;
  job_->parts = 1;
  job_->errors.resize(1);
  if (!in_worker && pool_has_workers()) pool().offer(job_, 1);
}

bool Task::run_if_unclaimed() {
  return job_->work();
}

bool Task::finished() const {
  return job_->done.load() == job_->parts;
}

bool Task::finish_quietly() {
  job_->work();
  return job_->wait_quietly();
}

bool Task::cancel() {
  if (job_->next.fetch_add(1) >= job_->parts) return false;
  job_->mark_done();
  return true;
}

}  // namespace tfbundle
