#include "dgc/hooks/powersgd_hook.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <cstring>

#include "archive_read.h"
#include "dgc/error.h"
#include "hooks/fused_dense.h"
#include "hooks/layout_check.h"

namespace dgc {

namespace {

const std::string kPrefix = "powersgd.";
const std::string kFormatVersionKey = kPrefix + "format_version";
const std::string kStepKey = kPrefix + "step";
const std::string kBucketsKey = kPrefix + "buckets";
// The layout of what save() writes: 1 = the step count, the number of buckets, and per bucket
// its errors and Q (each a float32 vector, empty when not drawn or not kept).
constexpr std::int64_t kStateFormatVersion = 1;

std::string bucket_key(std::size_t bucket, const char* what) {
  return detail::concat(kPrefix, "bucket", bucket, ".", what);
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Q's seed for a bucket and step (the header's formula): the same on every rank, nothing to save.
std::uint64_t q_seed(std::uint64_t seed, std::size_t bucket, std::int64_t step) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(bucket)) ^
                    static_cast<std::uint64_t>(step));
}

// Gram-Schmidt over the columns of `a` (k x r, r <= k), in place: PyTorch's
// _orthogonalize_gram_schmidt on a batch of one, with the same ops in the same order.
void orthogonalize(torch::Tensor a, double epsilon) {
  const std::int64_t cols = a.size(1);
  for (std::int64_t i = 0; i < cols; ++i) {
    torch::Tensor col = a.narrow(1, i, 1);
    const torch::Tensor norm = torch::frobenius_norm(col, {0}, /*keepdim=*/true);
    if (epsilon == 0) {
      // PyTorch means to zero such a column (its ZeroDivisionError branch), but a tensor
      // division never raises, so it gets NaN: do what it means. Every rank sees the same P and
      // Q here (both are reduced), so every rank takes the branch alike.
      if (norm.item<float>() == 0) {
        col.zero_();
      } else {
        col.div_(norm);
      }
    } else {
      col.div_(norm + epsilon);
    }
    if (i + 1 < cols) {
      torch::Tensor rest = a.narrow(1, i + 1, cols - i - 1);
      rest.sub_((col * rest).sum(0, /*keepdim=*/true) * col);
    }
  }
}

torch::Tensor read_vector(torch::serialize::InputArchive& archive, const std::string& key,
                          std::int64_t numel) {
  torch::Tensor t = detail::read_tensor(archive, key);
  DGC_CHECK(
      t.dim() == 1 && t.scalar_type() == torch::kFloat && (t.numel() == 0 || t.numel() == numel),
      "the PowerSGD state's '", key, "' has shape ", t.sizes(), " and dtype ", t.scalar_type(),
      ", expected [", numel, "] float32 (a checkpoint of another model, bucket size or rank?)");
  return t;
}

std::int64_t read_count(torch::serialize::InputArchive& archive, const std::string& key) {
  const torch::Tensor t = detail::read_tensor(archive, key);
  DGC_CHECK(t.numel() == 1 && t.scalar_type() == torch::kLong, "the PowerSGD state's '", key,
            "' is not one int64");
  return t.item<std::int64_t>();
}

}  // namespace

void validate(const PowerSgdOptions& o) {
  DGC_CHECK(o.matrix_approximation_rank >= 1, "matrix_approximation_rank must be >= 1, got ",
            o.matrix_approximation_rank);
  DGC_CHECK(o.start_powerSGD_iter >= 0, "start_powerSGD_iter must be >= 0, got ",
            o.start_powerSGD_iter);
  DGC_CHECK(std::isfinite(o.min_compression_rate) && o.min_compression_rate >= 0,
            "min_compression_rate must be finite and >= 0, got ", o.min_compression_rate);
  DGC_CHECK(std::isfinite(o.orthogonalization_epsilon) && o.orthogonalization_epsilon >= 0,
            "orthogonalization_epsilon must be finite and >= 0, got ", o.orthogonalization_epsilon);
}

struct PowerSgdHook::Bucket {
  // A compressed tensor: its position in the bucket, its matrix, and where its P, Q and error
  // sit in the bucket's vectors.
  struct Matrix {
    std::size_t position;
    std::int64_t n, m, r;
    std::int64_t p_offset, q_offset, e_offset;
  };
  std::vector<std::int64_t> numels;       // by position
  std::vector<Matrix> compressed;         // in bucket order
  std::vector<std::size_t> uncompressed;  // positions, in the fused buffer's order
  std::int64_t p_numel = 0, q_numel = 0, e_numel = 0;
  torch::Tensor p, q, error;  // undefined until needed (the header's accessors)
  // The whole bucket before start_powerSGD_iter, the uncompressed tensors afterwards.
  detail::FusedDense dense;
  bool dense_is_whole = false, dense_planned = false;
  bool layout_checked = false;
  bool compressed_step = false;  // what run() did this step, for finish()

  torch::Tensor p_of(const Matrix& x) const {
    return p.narrow(0, x.p_offset, x.n * x.r).view({x.n, x.r});
  }
  torch::Tensor q_of(const Matrix& x) const {
    return q.narrow(0, x.q_offset, x.m * x.r).view({x.m, x.r});
  }
  torch::Tensor error_of(const Matrix& x) const {
    return error.narrow(0, x.e_offset, x.n * x.m).view({x.n, x.m});
  }
  void plan_dense(bool whole) {
    if (dense_planned && dense_is_whole == whole) return;
    std::vector<std::int64_t> sizes;
    if (whole) {
      sizes = numels;
    } else {
      for (const std::size_t j : uncompressed) sizes.push_back(numels[j]);
    }
    dense.plan(sizes, torch::kFloat);
    dense_is_whole = whole;
    dense_planned = true;
  }
};

PowerSgdHook::PowerSgdHook(PowerSgdOptions options) : options_(options) { validate(options_); }

PowerSgdHook::~PowerSgdHook() = default;

void PowerSgdHook::prepare(const std::vector<HookTensor>& tensors,
                           const std::vector<std::vector<std::size_t>>& buckets,
                           Communicator& comm) {
  world_size_ = comm.size();
  buckets_.clear();
  for (const auto& handles : buckets) {
    auto b = std::make_unique<Bucket>();
    for (std::size_t j = 0; j < handles.size(); ++j) {
      const HookTensor& t = tensors[handles[j]];
      b->numels.push_back(t.numel);
      // A vector (a bias, a norm's scale) has nothing to factor; PyTorch would view it as n x 1.
      const std::int64_t n = t.shape.size() >= 2 ? t.shape[0] : 0;
      const std::int64_t m = n > 0 ? t.numel / n : 0;
      const std::int64_t r = std::min({n, m, options_.matrix_approximation_rank});
      // PyTorch's _should_compress, in double: the products can pass 2^53 only for matrices no
      // memory holds.
      const bool worth =
          n > 0 && m > 0 &&
          static_cast<double>(n + m) * static_cast<double>(r) * options_.min_compression_rate <
              static_cast<double>(n) * static_cast<double>(m);
      if (!worth) {
        b->uncompressed.push_back(j);
        continue;
      }
      b->compressed.push_back({j, n, m, r, b->p_numel, b->q_numel, b->e_numel});
      b->p_numel += n * r;
      b->q_numel += m * r;
      b->e_numel += n * m;
    }
    buckets_.push_back(std::move(b));
  }
}

void PowerSgdHook::check_layout(Bucket& b, Communicator& comm) const {
  // The settings that change what travels or how it is reduced: ranks that differ in them would
  // drift apart silently.
  // The doubles by their bits, so that no printed precision hides a difference.
  const auto bits = [](const auto& value) {
    std::int64_t out = 0;
    static_assert(sizeof value == sizeof out);
    std::memcpy(&out, &value, sizeof out);
    return out;
  };
  const std::string settings = detail::concat(
      options_.start_powerSGD_iter, " ", options_.use_error_feedback, " ", options_.warm_start, " ",
      bits(options_.orthogonalization_epsilon), " ", options_.matrix_approximation_rank, " ",
      bits(options_.min_compression_rate), " ", kStateFormatVersion);
  const detail::BucketLayout mine{detail::hook_identity(name()),
                                  static_cast<std::int64_t>(b.compressed.size()),
                                  b.p_numel,
                                  b.q_numel,
                                  static_cast<std::int64_t>(b.numels.size()),
                                  step_,
                                  bits(options_.seed),
                                  detail::hook_identity(settings)};
  detail::check_layouts_agree(comm, mine, name(), [](const detail::BucketLayout& l) {
    return detail::concat(l[1], " of ", l[4], " tensor(s) compressed (P of ", l[2], ", Q of ", l[3],
                          " element(s)), step ", l[5], ", seed ", static_cast<std::uint64_t>(l[6]),
                          ", settings digest ", l[7]);
  });
  b.layout_checked = true;
}

void PowerSgdHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  Bucket& b = *buckets_[bucket.index];
  if (!b.layout_checked && comm.size() > 1) check_layout(b, comm);
  const auto& grads = *bucket.grads;
  b.compressed_step = step_ >= options_.start_powerSGD_iter;
  if (!b.compressed_step) {
    b.plan_dense(/*whole=*/true);
    for (std::size_t j = 0; j < grads.size(); ++j) b.dense.pack(j, grads[j]);
    b.dense.allreduce(comm, traffic);
  } else {
    b.plan_dense(/*whole=*/false);
    // PyTorch sends the uncompressed tensors first: they need nothing computed.
    if (!b.uncompressed.empty()) {
      for (std::size_t k = 0; k < b.uncompressed.size(); ++k) {
        b.dense.pack(k, grads[b.uncompressed[k]]);
      }
      b.dense.allreduce(comm, traffic);
    }
    if (!b.compressed.empty()) compress(b, bucket, comm, traffic);
  }
  // Buckets run in index order every step: the last one closes the step.
  if (bucket.index + 1 == buckets_.size()) ++step_;
}

void PowerSgdHook::compress(Bucket& b, const GradBucket& bucket, Communicator& comm,
                            TrafficStats& traffic) {
  const auto& grads = *bucket.grads;
  // M: the gradient plus the previous error, accumulated in the error's own buffer (which
  // finish() turns into the new error), or the gradient itself.
  std::vector<torch::Tensor> matrices;
  if (options_.use_error_feedback && !b.error.defined()) {
    b.error = torch::zeros({b.e_numel}, torch::kFloat);
  }
  for (const auto& x : b.compressed) {
    const torch::Tensor g = grads[x.position].view({x.n, x.m});
    if (options_.use_error_feedback) {
      matrices.push_back(b.error_of(x).add_(g));
    } else {
      matrices.push_back(g);
    }
  }
  if (!b.p.defined()) b.p = torch::empty({b.p_numel}, torch::kFloat);
  if (!options_.warm_start || !b.q.defined()) {
    b.q = torch::empty({b.q_numel}, torch::kFloat);
    auto generator =
        at::make_generator<at::CPUGeneratorImpl>(q_seed(options_.seed, bucket.index, step_));
    for (const auto& x : b.compressed) {
      b.q_of(x).copy_(torch::randn({x.m, x.r}, generator, torch::kFloat));
    }
  }
  const double epsilon = options_.orthogonalization_epsilon;
  for (std::size_t k = 0; k < b.compressed.size(); ++k) {
    const auto& x = b.compressed[k];
    torch::Tensor q = b.q_of(x), p = b.p_of(x);
    orthogonalize(q, epsilon);
    torch::mm_out(p, matrices[k], q);
  }
  // Summed, not averaged: P is orthogonalized next, which undoes any scale.
  comm.allreduce(b.p, ReduceOp::kSum);
  traffic.bytes_sent += static_cast<std::int64_t>(b.p.nbytes());
  traffic.bytes_received += static_cast<std::int64_t>(b.p.nbytes());
  for (std::size_t k = 0; k < b.compressed.size(); ++k) {
    const auto& x = b.compressed[k];
    torch::Tensor q = b.q_of(x), p = b.p_of(x);
    orthogonalize(p, epsilon);
    torch::mm_out(q, matrices[k].t(), p);
  }
  comm.allreduce(b.q, ReduceOp::kSum);
  traffic.bytes_sent += static_cast<std::int64_t>(b.q.nbytes());
  traffic.bytes_received += static_cast<std::int64_t>(b.q.nbytes());
  // Divided, as PyTorch does (not multiplied by the reciprocal like the dense average).
  b.q.div_(world_size_);
}

void PowerSgdHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  Bucket& b = *buckets_[bucket.index];
  if (!b.compressed_step) {
    for (std::size_t j = 0; j < out.size(); ++j) {
      torch::Tensor g = out[j];
      b.dense.average_into(j, world_size_, g);
    }
    return;
  }
  for (std::size_t k = 0; k < b.uncompressed.size(); ++k) {
    torch::Tensor g = out[b.uncompressed[k]];
    b.dense.average_into(k, world_size_, g);
  }
  for (const auto& x : b.compressed) {
    torch::Tensor approximation = out[x.position].view({x.n, x.m});
    torch::mm_out(approximation, b.p_of(x), b.q_of(x).t());
    // The error holds M since run(): what the approximation missed waits for the next step.
    if (options_.use_error_feedback) b.error_of(x).sub_(approximation);
  }
}

void PowerSgdHook::save(torch::serialize::OutputArchive& archive) const {
  archive.write(kFormatVersionKey, torch::tensor(kStateFormatVersion), /*is_buffer=*/true);
  archive.write(kStepKey, torch::tensor(step_), /*is_buffer=*/true);
  archive.write(kBucketsKey, torch::tensor(static_cast<std::int64_t>(buckets_.size())),
                /*is_buffer=*/true);
  const auto or_empty = [](const torch::Tensor& t) {
    return t.defined() ? t : torch::empty({0}, torch::kFloat);
  };
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    const Bucket& b = *buckets_[i];
    archive.write(bucket_key(i, "error"), or_empty(b.error), /*is_buffer=*/true);
    // Without warm start Q is drawn afresh every step: nothing to resume.
    archive.write(bucket_key(i, "q"), options_.warm_start ? or_empty(b.q) : or_empty({}),
                  /*is_buffer=*/true);
  }
}

void PowerSgdHook::load(torch::serialize::InputArchive& archive) {
  torch::Tensor version;
  DGC_CHECK(archive.try_read(kFormatVersionKey, version, /*is_buffer=*/true),
            "the checkpoint holds no PowerSGD state (no '", kFormatVersionKey,
            "'): was it written with another exchange?");
  DGC_CHECK(version.numel() == 1 && version.scalar_type() == torch::kLong &&
                version.item<std::int64_t>() == kStateFormatVersion,
            "the PowerSGD state in the checkpoint has format version ",
            version.numel() == 1 ? version.item().toLong() : -1, "; this dgc reads version ",
            kStateFormatVersion, " (a checkpoint from another dgc release?)");
  // Everything is read and checked before any of it replaces the live state.
  const std::int64_t step = read_count(archive, kStepKey);
  DGC_CHECK(step >= 0, "the PowerSGD state's '", kStepKey, "' is negative: ", step);
  const std::int64_t buckets = read_count(archive, kBucketsKey);
  DGC_CHECK(buckets == static_cast<std::int64_t>(buckets_.size()), "the PowerSGD state has ",
            buckets, " bucket(s), this model ", buckets_.size(),
            " (a checkpoint of another model or bucket size?)");
  std::vector<torch::Tensor> errors, qs;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    errors.push_back(read_vector(archive, bucket_key(i, "error"), buckets_[i]->e_numel));
    qs.push_back(read_vector(archive, bucket_key(i, "q"), buckets_[i]->q_numel));
  }
  step_ = step;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = *buckets_[i];
    // An empty entry: not drawn yet (or not kept), so drawn or zeroed at the next compressed
    // step, as in a fresh hook.
    const bool has_error = options_.use_error_feedback && errors[i].numel() > 0;
    b.error = has_error ? errors[i].clone() : torch::Tensor();
    const bool has_q = options_.warm_start && qs[i].numel() > 0;
    b.q = has_q ? qs[i].clone() : torch::Tensor();
    // Every rank loads together (the hook's contract): check again that they agree, the step
    // count included, before the next exchange.
    b.layout_checked = false;
  }
}

const torch::Tensor& PowerSgdHook::error(std::size_t bucket) const {
  DGC_CHECK(bucket < buckets_.size(), "no bucket ", bucket, " (", buckets_.size(), " bucket(s))");
  return buckets_[bucket]->error;
}

const torch::Tensor& PowerSgdHook::p(std::size_t bucket) const {
  DGC_CHECK(bucket < buckets_.size(), "no bucket ", bucket, " (", buckets_.size(), " bucket(s))");
  return buckets_[bucket]->p;
}

const torch::Tensor& PowerSgdHook::q(std::size_t bucket) const {
  DGC_CHECK(bucket < buckets_.size(), "no bucket ", bucket, " (", buckets_.size(), " bucket(s))");
  return buckets_[bucket]->q;
}

}  // namespace dgc
