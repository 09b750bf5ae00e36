// The batches of one epoch on one rank, prepared ahead of the training loop by a worker thread.
//
// A BatchLoader walks this rank's indices for the epoch (from DistributedSampler) in slices of
// batch_size, gathers the images and labels of each slice, augments them (augment.h) and queues
// the result, at most `prefetch` batches ahead of the consumer. A batch's content depends only on
// its position in the epoch (the augmentation randomness is counter-based), never on thread
// timing or on the prefetch depth, and starting at batch k yields exactly the tail of a full pass:
// that is how a run resumes mid-epoch.
//
// Threading: one worker per loader. It runs no intra-op parallel ATen kernels (plain loops and
// allocations only), so it neither changes nor depends on at::set_num_threads, which is partly
// process-wide state; the training loop keeps all its intra-op threads. next() and the
// destructor must be called from one thread (the training loop). Destroying a loader mid-epoch
// stops the worker after the batch it is preparing and joins it.
//
// Errors: bad arguments are a dgc::Error from the constructor; an exception in the worker
// (e.g. an augmentation whose mean/std do not match the channels) is rethrown unchanged by the
// next() that reaches its batch, and by every next() after it.
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "input/augment.h"

namespace dgc::train {

struct Batch {
  at::Tensor data;         // float32 [B, C, H, W], augmented and normalized
  at::Tensor target;       // int64 [B]
  std::int64_t index = 0;  // position of this batch in the epoch, from 0
};

struct LoaderOptions {
  // Samples per batch; the last batch of an epoch keeps the remainder (may be smaller).
  std::int64_t batch_size = 128;
  // Applied to every batch; see augment.h. Default: scaling to [0, 1] only.
  Augmentation augmentation;
  // With epoch, selects the augmentation randomness; the run's seed.
  std::uint64_t seed = 42;
  std::int64_t epoch = 0;
  // false: no random crop or flip (evaluation), normalization only.
  bool train = true;
  // First batch to produce, in [0, num_batches()]: resumes an epoch after its first k batches.
  std::int64_t start_batch = 0;
  // How many prepared batches may wait for the consumer; at least 1.
  std::int64_t prefetch = 2;
};

class BatchLoader {
 public:
  // images: uint8 [N, C, H, W]; labels: int64 [N]; indices: this rank's dataset indices for the
  // epoch in visiting order, each in [0, N). The tensors are shared, not copied (made contiguous
  // first if they are not): do not modify them while the loader lives.
  BatchLoader(at::Tensor images, at::Tensor labels, std::vector<std::int64_t> indices,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch of the epoch into `out`; false (and `out` untouched) once the epoch is done.
  bool next(Batch& out);

  // Batches in the whole epoch, ceil(indices.size() / batch_size), including skipped ones.
  std::int64_t num_batches() const { return num_batches_; }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  void run();
  Batch make_batch(std::int64_t index) const;

  const at::Tensor images_;
  const at::Tensor labels_;
  const std::vector<std::int64_t> indices_;
  const LoaderOptions options_;
  std::int64_t num_batches_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;  // a slot was queued or taken, the worker ended, or stop
  std::deque<Slot> ready_;           // guarded by mutex_
  bool worker_done_ = false;         // guarded by mutex_
  bool stop_ = false;                // guarded by mutex_
  std::exception_ptr error_;         // consumer side only: the worker's error, once reached
  std::thread worker_;               // last: started once everything above is initialized
};

}  // namespace dgc::train
