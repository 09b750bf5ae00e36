// The reduce-scatter scheme (`dgc_reduce_scatter`, include/dgc/hooks/dgc_reduce_scatter_hook.h).
#include <algorithm>
#include <cmath>

#include "dgc/error.h"
#include "hooks/dgc_schemes.h"
#include "sparse_codec.h"

namespace dgc::detail {

namespace {

// Region r of a tensor of n positions split into `parts` regions whose lengths differ by at
// most one.
struct Region {
  std::int64_t start, length;
};
Region region_of(std::int64_t n, int parts, int r) {
  const auto start_of = [&](int q) {
    return q * (n / parts) + std::min<std::int64_t>(q, n % parts);
  };
  return {start_of(r), start_of(r + 1) - start_of(r)};
}

// How many positions an owner keeps per tensor: the capacity shared out over the owners.
std::int64_t quota_of(std::int64_t capacity, int parts) { return (capacity + parts - 1) / parts; }

// The order of the owner's choice: larger |value| first (NaN the largest, so that it reaches
// every rank as in `dgc`), then the lower position. A strict total order, so the choice is the
// same on every rank and on every run.
bool kept_before(const ScatterEntry& a, const ScatterEntry& b) {
  const float ka = std::isnan(a.value) ? INFINITY : std::fabs(a.value);
  const float kb = std::isnan(b.value) ? INFINITY : std::fabs(b.value);
  return ka != kb ? ka > kb : a.index < b.index;
}

// Appends one block of `entries` (ascending positions of the region starting at `start`).
void append_block(const ScatterEntry* entries, std::size_t count, std::int64_t start,
                  std::int64_t region, ValueType type, ScatterState& s,
                  std::vector<std::uint8_t>& out) {
  s.relative.resize(count);
  s.block_values.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    s.relative[i] = entries[i].index - start;
    s.block_values[i] = entries[i].value;
  }
  const std::size_t at = out.size();
  out.resize(at + encoded_block_bytes(s.relative.data(), static_cast<std::int64_t>(count), type));
  encode_block(s.relative.data(), s.block_values.data(), static_cast<std::int64_t>(count), region,
               type, out.data() + at);
}

// Decodes the block at data[*at, size) into `into` (absolute positions), advancing *at.
void read_block(const std::uint8_t* data, std::size_t size, std::size_t* at, std::int64_t start,
                std::int64_t region, std::int64_t capacity, ValueType type, const std::string& what,
                ScatterState& s, std::vector<ScatterEntry>& into) {
  s.block_indices.resize(static_cast<std::size_t>(capacity));
  s.block_values.resize(static_cast<std::size_t>(capacity));
  const auto block = decode_block(data + *at, size - *at, region, capacity, type,
                                  s.block_indices.data(), s.block_values.data(), what);
  for (std::int64_t i = 0; i < block.count; ++i) {
    into.push_back({start + s.block_indices[i], s.block_values[i]});
  }
  *at += block.bytes;
}

}  // namespace

void run_reduce_scatter(DgcBucket& b, const SchemeContext& c,
                        const std::vector<torch::Tensor>& grads, Communicator& comm,
                        TrafficStats& traffic) {
  if (!b.scatter) b.scatter = std::make_unique<ScatterState>();
  ScatterState& s = *b.scatter;
  const int world = c.world_size;
  const auto type = b.message.value_type();
  if (!b.sparse.empty()) {
    const auto square_means = b.square_means(c.compressor, grads, comm, traffic);
    b.compress(c.compressor, grads, square_means);

    // The scatter: to each owner, every tensor's entries in its region.
    s.scatter_send.clear();
    s.scatter_send_bytes.assign(static_cast<std::size_t>(world), 0);
    for (int r = 0; r < world; ++r) {
      const std::size_t before = s.scatter_send.size();
      for (std::size_t k = 0; k < b.sparse.size(); ++k) {
        const std::int64_t n = b.numels[b.sparse[k]];
        const Region region = region_of(n, world, r);
        const std::int64_t start = region.start, end = region.start + region.length;
        const WireSlice own = b.message.own(k);
        const auto* indices = static_cast<const std::int64_t*>(own.indices);
        const auto* values = static_cast<const float*>(own.values);
        const auto first = std::lower_bound(indices, indices + own.count, start) - indices;
        const auto last = std::lower_bound(indices, indices + own.count, end) - indices;
        s.entries.clear();
        for (auto i = first; i < last; ++i) s.entries.push_back({indices[i], values[i]});
        append_block(s.entries.data(), s.entries.size(), start, region.length, type, s,
                     s.scatter_send);
      }
      s.scatter_send_bytes[static_cast<std::size_t>(r)] =
          static_cast<std::int64_t>(s.scatter_send.size() - before);
    }
    comm.alltoallv(s.scatter_send.data(), s.scatter_send_bytes, s.scatter_received_bytes,
                   s.scatter_received);
    const auto me = static_cast<std::size_t>(c.rank);
    traffic.bytes_sent +=
        static_cast<std::int64_t>(s.scatter_send.size()) - s.scatter_send_bytes[me];
    traffic.bytes_received +=
        static_cast<std::int64_t>(s.scatter_received.size()) - s.scatter_received_bytes[me];

    // The reduction of this rank's regions, and the choice of what to keep.
    s.kept_send.clear();
    // Rank r's message is [offsets[r], ends[r]) of what arrived.
    std::vector<std::size_t> offsets(static_cast<std::size_t>(world)), ends(offsets.size());
    for (int r = 0; r < world; ++r) {
      if (r > 0) offsets[r] = ends[r - 1];
      ends[r] = offsets[r] + static_cast<std::size_t>(s.scatter_received_bytes[r]);
    }
    for (std::size_t k = 0; k < b.sparse.size(); ++k) {
      const std::int64_t n = b.numels[b.sparse[k]];
      const auto [start, region] = region_of(n, world, c.rank);
      const std::int64_t capacity = std::min(b.message.capacity(k), region);
      s.entries.clear();
      for (int r = 0; r < world; ++r) {
        read_block(s.scatter_received.data(), ends[r], &offsets[r], start, region, capacity, type,
                   concat("tensor '", b.sparse_names[k], "' from rank ", r), s, s.entries);
      }
      // Per position, the sum in rank order: a stable sort keeps the ranks' order among equals.
      std::stable_sort(s.entries.begin(), s.entries.end(),
                       [](const auto& x, const auto& y) { return x.index < y.index; });
      std::size_t sums = 0;
      for (std::size_t i = 0; i < s.entries.size(); ++i) {
        if (sums > 0 && s.entries[sums - 1].index == s.entries[i].index) {
          s.entries[sums - 1].value += s.entries[i].value;
        } else {
          s.entries[sums++] = s.entries[i];
        }
      }
      s.entries.resize(sums);
      const auto quota = static_cast<std::size_t>(quota_of(b.message.capacity(k), world));
      if (s.entries.size() > quota) {
        std::nth_element(s.entries.begin(), s.entries.begin() + quota, s.entries.end(),
                         kept_before);
        s.entries.resize(quota);
        std::sort(s.entries.begin(), s.entries.end(),
                  [](const auto& x, const auto& y) { return x.index < y.index; });
      }
      append_block(s.entries.data(), s.entries.size(), start, region, type, s, s.kept_send);
    }
    for (int r = 0; r < world; ++r) {
      DGC_CHECK(offsets[r] == ends[r], "the scatter message from rank ", r, " has ",
                ends[r] - offsets[r], " byte(s) after its last block");
    }
    const auto kept = static_cast<std::int64_t>(s.kept_send.size());
    if (gathers_through_leaders(b, c)) {
      traffic.add(comm.allgatherv_through_leaders(s.kept_send.data(), kept,
                                                  s.kept_received_bytes, s.kept_received));
    } else {
      comm.allgatherv(s.kept_send.data(), kept, s.kept_received_bytes, s.kept_received);
      traffic.bytes_sent += kept;
      traffic.bytes_received += static_cast<std::int64_t>(s.kept_received.size()) - kept;
    }
  }
  if (!b.dense.empty()) {
    b.pack_dense(grads);
    b.fused.allreduce(comm, traffic);
  }
}

void finish_reduce_scatter(DgcBucket& b, const SchemeContext& c,
                           const std::vector<torch::Tensor>& out) {
  ScatterState& s = *b.scatter;
  const int world = c.world_size;
  const auto type = b.message.value_type();
  // Every owner's message decoded and checked before anything is written.
  s.applied.resize(b.sparse.size());
  for (auto& a : s.applied) a.clear();
  std::size_t at = 0;
  for (int r = 0; r < world; ++r) {
    const std::size_t end = at + static_cast<std::size_t>(s.kept_received_bytes[r]);
    for (std::size_t k = 0; k < b.sparse.size(); ++k) {
      const std::int64_t n = b.numels[b.sparse[k]];
      const auto [start, region] = region_of(n, world, r);
      read_block(s.kept_received.data(), end, &at, start, region,
                 std::min(quota_of(b.message.capacity(k), world), region), type,
                 concat("tensor '", b.sparse_names[k], "' from rank ", r), s, s.applied[k]);
    }
    DGC_CHECK(at == end, "the kept sums from rank ", r, " have ", end - at,
              " byte(s) after their last block");
  }
  const float scale = static_cast<float>(1.0 / static_cast<double>(world));
  for (std::size_t k = 0; k < b.sparse.size(); ++k) {
    float* grad = out[b.sparse[k]].data_ptr<float>();
    std::fill_n(grad, b.numels[b.sparse[k]], 0.0f);
    for (const auto& e : s.applied[k]) grad[e.index] = e.value * scale;
    // What this rank selected and no owner kept goes back into its residual.
    const WireSlice own = b.message.own(k);
    const auto* indices = static_cast<const std::int64_t*>(own.indices);
    const auto* values = static_cast<const float*>(own.values);
    float* velocity = c.compressor.memory().velocity(b.tensors[b.sparse[k]]).data_ptr<float>();
    std::size_t a = 0;
    for (std::int64_t i = 0; i < own.count; ++i) {
      while (a < s.applied[k].size() && s.applied[k][a].index < indices[i]) ++a;
      if (a == s.applied[k].size() || s.applied[k][a].index != indices[i]) {
        velocity[indices[i]] += values[i];
      }
    }
  }
  b.decode_dense(c.compressor, c.world_size, out);
}

}  // namespace dgc::detail
