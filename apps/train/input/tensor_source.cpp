#include "input/tensor_source.h"

#include <utility>

#include "dgc/error.h"

namespace dgc::train {
namespace {

at::Tensor checked_images(const at::Tensor& images) {
  DGC_CHECK(images.defined(), "the image tensor is undefined");
  DGC_CHECK(images.scalar_type() == at::kByte, "images must be uint8, got ", images.scalar_type());
  DGC_CHECK(images.dim() == 4, "images must be [N, C, H, W], got ", images.sizes());
  // Here, on the caller's thread: the loader's workers then read the data without ATen kernels.
  return images.contiguous();
}

at::Tensor checked_labels(const at::Tensor& labels, std::int64_t count) {
  DGC_CHECK(labels.defined(), "the label tensor is undefined");
  DGC_CHECK(labels.scalar_type() == at::kLong, "labels must be int64, got ", labels.scalar_type());
  DGC_CHECK(labels.dim() == 1, "labels must be [N], got ", labels.sizes());
  DGC_CHECK(labels.size(0) == count, count, " images but ", labels.size(0), " labels");
  return labels.contiguous();
}

}  // namespace

TensorSource::TensorSource(at::Tensor images, at::Tensor labels, Augmentation augmentation,
                           std::uint64_t seed, bool train)
    : images_(checked_images(images)),
      labels_(checked_labels(labels, images_.size(0))),
      augmentation_(std::move(augmentation)),
      seed_(seed),
      train_(train),
      tables_(detail::pixel_tables(augmentation_, images_.size(1))) {
  DGC_CHECK(augmentation_.pad >= 0, "augment: pad must be >= 0, got ", augmentation_.pad);
}

std::int64_t TensorSource::label(std::int64_t index) const {
  return labels_.data_ptr<std::int64_t>()[index];
}

std::vector<std::int64_t> TensorSource::sample_shape() const {
  return {images_.size(1), images_.size(2), images_.size(3)};
}

void TensorSource::prepare(std::int64_t index, std::int64_t epoch, float* out) const {
  const std::int64_t channels = images_.size(1), height = images_.size(2), width = images_.size(3);
  const SampleTransform t = sample_transform(augmentation_, seed_, epoch, index, train_);
  detail::augment_sample(images_.data_ptr<std::uint8_t>() + index * channels * height * width,
                         channels, height, width, augmentation_.pad, t, tables_, out);
}

}  // namespace dgc::train
