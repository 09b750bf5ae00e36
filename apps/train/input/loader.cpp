#include "input/loader.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <utility>

#include "dgc/error.h"

namespace dgc::train {

BatchLoader::BatchLoader(std::shared_ptr<const SampleSource> source,
                         std::vector<std::int64_t> indices, LoaderOptions options)
    : source_(std::move(source)), indices_(std::move(indices)), options_(options) {
  DGC_CHECK(source_ != nullptr, "BatchLoader: no sample source");
  DGC_CHECK(options_.batch_size >= 1, "BatchLoader: batch_size must be at least 1, got ",
            options_.batch_size);
  DGC_CHECK(options_.prefetch >= 1, "BatchLoader: prefetch must be at least 1, got ",
            options_.prefetch);
  DGC_CHECK(options_.workers >= 1, "BatchLoader: workers must be at least 1, got ",
            options_.workers);
  const std::int64_t n = source_->size();
  for (const std::int64_t index : indices_) {
    DGC_CHECK(index >= 0 && index < n, "BatchLoader: sample index ", index, " is outside [0, ", n,
              ")");
  }
  const auto count = static_cast<std::int64_t>(indices_.size());
  num_batches_ = (count + options_.batch_size - 1) / options_.batch_size;
  DGC_CHECK(options_.start_batch >= 0 && options_.start_batch <= num_batches_,
            "BatchLoader: start_batch ", options_.start_batch, " is outside [0, ", num_batches_,
            "]");
  window_ = std::max(options_.prefetch, options_.workers);
  next_to_claim_ = next_to_take_ = options_.start_batch;
  const std::int64_t threads = std::min(options_.workers, num_batches_ - options_.start_batch);
  for (std::int64_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
}

Batch BatchLoader::make_batch(std::int64_t index) const {
  const std::int64_t begin = index * options_.batch_size;
  const std::int64_t end =
      std::min(begin + options_.batch_size, static_cast<std::int64_t>(indices_.size()));
  std::vector<std::int64_t> shape = source_->sample_shape();
  std::int64_t sample = 1;
  for (const std::int64_t d : shape) sample *= d;
  shape.insert(shape.begin(), end - begin);
  Batch batch;
  batch.index = index;
  batch.data = at::empty(shape, at::kFloat);
  batch.target = at::empty({end - begin}, at::kLong);
  float* data = batch.data.data_ptr<float>();
  std::int64_t* target = batch.target.data_ptr<std::int64_t>();
  for (std::int64_t i = begin; i < end; ++i) {
    source_->prepare(indices_[i], options_.epoch, data + (i - begin) * sample);
    target[i - begin] = source_->label(indices_[i]);
  }
  return batch;
}

void BatchLoader::run() {
  for (;;) {
    std::int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] {
        return stop_ || failed_ || next_to_claim_ >= num_batches_ ||
               next_to_claim_ < next_to_take_ + window_;
      });
      if (stop_ || failed_ || next_to_claim_ >= num_batches_) return;
      index = next_to_claim_++;
    }
    // Prepared outside the lock, so the consumer and the other workers go on meanwhile.
    Slot slot;
    try {
      slot.batch = make_batch(index);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (slot.error) failed_ = true;  // no batch after a failed one is started
      ready_.emplace(index, std::move(slot));
    }
    changed_.notify_all();
  }
}

bool BatchLoader::next(Batch& out) {
  if (error_) std::rethrow_exception(error_);
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_to_take_ >= num_batches_) return false;
    // Workers claim batches in order and finish what they claimed, so this batch is coming
    // (after a failed batch none is claimed, but that one is reached first).
    changed_.wait(lock, [this] { return ready_.count(next_to_take_) > 0; });
    auto it = ready_.find(next_to_take_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_to_take_;
  }
  changed_.notify_all();
  if (slot.error) {
    error_ = slot.error;
    std::rethrow_exception(error_);
  }
  out = std::move(slot.batch);
  return true;
}

}  // namespace dgc::train
