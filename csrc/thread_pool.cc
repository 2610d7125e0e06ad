#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tfbundle {

namespace {

thread_local bool in_worker = false;

// One parallel_for call: parts are claimed through `next`, so the caller
// and any number of workers can share them.
struct Job {
  const std::function<void(int)>* fn;
  int parts;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::mutex mu;
  std::condition_variable finished;
  std::vector<std::exception_ptr> errors;

  // Runs unclaimed parts until none is left.
  void work() {
    for (int i = next.fetch_add(1); i < parts; i = next.fetch_add(1)) {
      try {
        (*fn)(i);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == parts) {
        std::lock_guard<std::mutex> lock(mu);
        finished.notify_all();
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; i++) {
      std::thread([this] { loop(); }).detach();  // lives as long as the process
    }
  }

  void offer(const std::shared_ptr<Job>& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < helpers; i++) queue_.push_back(job);
    }
    for (int i = 0; i < helpers; i++) wake_.notify_one();
  }

 private:
  void loop() {
    in_worker = true;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->work();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;  // one entry per helper a job asked for
};

Pool& pool() {
  static Pool* p = new Pool(pool_threads() - 1);  // never destroyed: workers may outlive exit
  return *p;
}

}  // namespace

int pool_threads() {
  static const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return n;
}

void parallel_for(int parts, const std::function<void(int)>& fn) {
  if (parts <= 1 || in_worker || pool_threads() == 1) {
    for (int i = 0; i < parts; i++) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->parts = parts;
  job->errors.resize(static_cast<size_t>(parts));
  pool().offer(job, std::min(parts, pool_threads()) - 1);
  job->work();
  {
    std::unique_lock<std::mutex> lock(job->mu);
    job->finished.wait(lock, [&] { return job->done.load() == parts; });
  }
  for (auto& e : job->errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace tfbundle
