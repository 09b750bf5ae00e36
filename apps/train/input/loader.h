// The batches of one epoch on one rank, prepared ahead of the training loop by worker threads.
//
// A BatchLoader walks this rank's indices for the epoch (from DistributedSampler) in slices of
// batch_size, has a SampleSource prepare each sample of a slice (augmentation, or decoding and
// the ImageNet transforms) and hands the batches out in order, at most `prefetch` batches ahead
// of the consumer. Each worker prepares whole batches: worker threads take the next batch
// index in turn. A batch's content depends only on its position in the epoch (the sources'
// randomness is counter-based), never on thread timing, the number of workers or the prefetch
// depth, and starting at batch k yields exactly the tail of a full pass: that is how a run
// resumes mid-epoch.
//
// Threading: the workers run no intra-op parallel ATen kernels (plain loops and allocations
// only), so they neither change nor depend on at::set_num_threads, which is partly process-wide
// state; the training loop keeps all its intra-op threads. next() and the destructor must be
// called from one thread (the training loop). Destroying a loader mid-epoch stops the workers
// after the batches they are preparing and joins them.
//
// Errors: bad arguments are a dgc::Error from the constructor; an exception in a worker is
// rethrown unchanged by the next() that reaches its batch, and by every next() after it.
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "input/sample_source.h"

namespace dgc::train {

struct Batch {
  at::Tensor data;         // float32 [B, C, H, W], as the source prepared it
  at::Tensor target;       // int64 [B]
  std::int64_t index = 0;  // position of this batch in the epoch, from 0
};

struct LoaderOptions {
  // Samples per batch; the last batch of an epoch keeps the remainder (may be smaller).
  std::int64_t batch_size = 128;
  // Passed to the source: selects the augmentation randomness with the run's seed.
  std::int64_t epoch = 0;
  // First batch to produce, in [0, num_batches()]: resumes an epoch after its first k batches.
  std::int64_t start_batch = 0;
  // How many batches may be prepared or waiting ahead of the consumer; at least 1. At least
  // `workers` are, so that every worker has one.
  std::int64_t prefetch = 2;
  // Worker threads preparing batches; at least 1. Decoding JPEGs needs several per rank.
  std::int64_t workers = 1;
};

class BatchLoader {
 public:
  // indices: this rank's dataset indices for the epoch in visiting order, each in
  // [0, source->size()). The source is shared with the caller and must not change meanwhile.
  BatchLoader(std::shared_ptr<const SampleSource> source, std::vector<std::int64_t> indices,
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

  const std::shared_ptr<const SampleSource> source_;
  const std::vector<std::int64_t> indices_;
  const LoaderOptions options_;
  std::int64_t num_batches_ = 0;
  std::int64_t window_ = 1;  // max(prefetch, workers)

  std::mutex mutex_;
  std::condition_variable changed_;     // a batch was claimed, queued or taken, or stop
  std::map<std::int64_t, Slot> ready_;  // guarded by mutex_: finished batches by index
  std::int64_t next_to_claim_ = 0;      // guarded by mutex_: the next batch a worker starts
  std::int64_t next_to_take_ = 0;       // guarded by mutex_: the next batch next() returns
  bool failed_ = false;                 // guarded by mutex_: a worker's batch threw
  bool stop_ = false;                   // guarded by mutex_
  std::exception_ptr error_;            // consumer side only: a worker's error, once reached
  std::vector<std::thread> workers_;    // last: started once everything above is initialized
};

}  // namespace dgc::train
