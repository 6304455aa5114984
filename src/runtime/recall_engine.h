// The recall engine: one background thread that runs the expensive part of a cycle's
// selection (indexer scoring) and the copies of recalled pages while decode goes on.
//
// Timeline of one cycle of τ steps with lead L (Session drives it):
//   step b-L    decode thread: policy->prepare_select() (new chunk keys), job -> worker
//   b-L < s < b decode thread: when the job is done, reserve device slots for the chosen
//               host pages (KvStore::begin_staged_upload), copies -> worker
//   step b      decode thread: wait for the worker, commit the staged pages, make the
//               chosen set current (the double buffer flips), move whatever is left
// So the set applied at boundary b was chosen from the hidden state L steps earlier;
// chunks sealed after that are attended anyway (the resident set's tail_from).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace fm {

class RecallWorker {
 public:
  RecallWorker();
  ~RecallWorker();
  RecallWorker(const RecallWorker&) = delete;
  RecallWorker& operator=(const RecallWorker&) = delete;

  // Runs job on the background thread; the previous job must be finished (wait()).
  void submit(std::function<void()> job);
  // True while a submitted job has not finished.
  bool busy() const;
  // Blocks until the submitted job (if any) is finished.
  void wait();
  // Seconds the background thread spent in jobs since construction.
  double busy_seconds() const;

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::function<void()> job_;
  bool running_ = false;
  bool stop_ = false;
  double busy_seconds_ = 0;
  std::thread thread_;
};

}  // namespace fm
