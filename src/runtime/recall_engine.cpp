#include "runtime/recall_engine.h"

#include <chrono>

#include "core/status.h"

namespace fm {

RecallWorker::RecallWorker() : thread_([this] { loop(); }) {}

RecallWorker::~RecallWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void RecallWorker::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    FM_ASSERT(!running_ && !job_);
    job_ = std::move(job);
    running_ = true;
  }
  wake_.notify_one();
}

bool RecallWorker::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void RecallWorker::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return !running_; });
}

double RecallWorker::busy_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_seconds_;
}

void RecallWorker::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (stop_ && !job_) return;
    std::function<void()> job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    job();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    lock.lock();
    busy_seconds_ += seconds;
    running_ = false;
    done_.notify_all();
  }
}

}  // namespace fm
