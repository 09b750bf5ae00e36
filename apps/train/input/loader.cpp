#include "input/loader.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <utility>

#include "dgc/error.h"

namespace dgc::train {
namespace {

at::Tensor checked_images(const at::Tensor& images) {
  DGC_CHECK(images.defined(), "BatchLoader: the image tensor is undefined");
  DGC_CHECK(images.scalar_type() == at::kByte, "BatchLoader: images must be uint8, got ",
            images.scalar_type());
  DGC_CHECK(images.dim() == 4, "BatchLoader: images must be [N, C, H, W], got ", images.sizes());
  // Here, on the caller's thread: the worker then reads the data without any ATen kernel.
  return images.contiguous();
}

at::Tensor checked_labels(const at::Tensor& labels) {
  DGC_CHECK(labels.defined(), "BatchLoader: the label tensor is undefined");
  DGC_CHECK(labels.scalar_type() == at::kLong, "BatchLoader: labels must be int64, got ",
            labels.scalar_type());
  DGC_CHECK(labels.dim() == 1, "BatchLoader: labels must be [N], got ", labels.sizes());
  return labels.contiguous();
}

}  // namespace

BatchLoader::BatchLoader(at::Tensor images, at::Tensor labels, std::vector<std::int64_t> indices,
                         LoaderOptions options)
    : images_(checked_images(images)),
      labels_(checked_labels(labels)),
      indices_(std::move(indices)),
      options_(std::move(options)) {
  const std::int64_t n = images_.size(0);
  DGC_CHECK(labels_.size(0) == n, "BatchLoader: ", n, " images but ", labels_.size(0), " labels");
  DGC_CHECK(options_.batch_size >= 1, "BatchLoader: batch_size must be at least 1, got ",
            options_.batch_size);
  DGC_CHECK(options_.prefetch >= 1, "BatchLoader: prefetch must be at least 1, got ",
            options_.prefetch);
  for (const std::int64_t index : indices_) {
    DGC_CHECK(index >= 0 && index < n, "BatchLoader: sample index ", index, " is outside [0, ", n,
              ")");
  }
  const auto count = static_cast<std::int64_t>(indices_.size());
  num_batches_ = (count + options_.batch_size - 1) / options_.batch_size;
  DGC_CHECK(options_.start_batch >= 0 && options_.start_batch <= num_batches_,
            "BatchLoader: start_batch ", options_.start_batch, " is outside [0, ", num_batches_,
            "]");
  worker_ = std::thread([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

Batch BatchLoader::make_batch(std::int64_t index) const {
  const std::int64_t begin = index * options_.batch_size;
  const std::int64_t end =
      std::min(begin + options_.batch_size, static_cast<std::int64_t>(indices_.size()));
  const std::vector<std::int64_t> rows(indices_.begin() + begin, indices_.begin() + end);
  Batch batch;
  batch.index = index;
  batch.data = detail::augment_rows(images_, rows, rows, options_.augmentation, options_.seed,
                                    options_.epoch, options_.train);
  // A gather by hand rather than index_select: no ATen kernel on this thread (see loader.h).
  batch.target = at::empty({end - begin}, at::kLong);
  const std::int64_t* labels = labels_.data_ptr<std::int64_t>();
  std::int64_t* target = batch.target.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < rows.size(); ++i) target[i] = labels[rows[i]];
  return batch;
}

void BatchLoader::run() {
  for (std::int64_t index = options_.start_batch; index < num_batches_; ++index) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] {
        return stop_ || static_cast<std::int64_t>(ready_.size()) < options_.prefetch;
      });
      if (stop_) break;
    }
    // Prepared outside the lock, so the consumer can take earlier batches meanwhile.
    Slot slot;
    try {
      slot.batch = make_batch(index);
    } catch (...) {
      slot.error = std::current_exception();
    }
    const bool failed = static_cast<bool>(slot.error);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(std::move(slot));
    }
    changed_.notify_all();
    if (failed) break;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_done_ = true;
  }
  changed_.notify_all();
}

bool BatchLoader::next(Batch& out) {
  if (error_) std::rethrow_exception(error_);
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return !ready_.empty() || worker_done_; });
    if (ready_.empty()) return false;
    slot = std::move(ready_.front());
    ready_.pop_front();
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
