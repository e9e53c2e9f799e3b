// The EMA codebook step of docs/design.md in one pass instead of a dozen ops.
#pragma once

#include "tensor/tensor.hpp"

namespace vq::models {

// stats: [K, D+1] = per code, the sum of the z_e vectors assigned to it
// (first D) and their count n (last). In place:
//   N = decay N + (1 - decay) n,   m = decay m + (1 - decay) s,   usage += n
// and returns the new codebook e = m / Ñ: [K, D], with the Laplace-smoothed
// counts Ñ_k = (N_k + eps) / (sum N + K eps) * sum N.
Tensor codebook_ema_(Tensor& count, Tensor& sums, Tensor& usage, const Tensor& stats, double decay, double eps);

}  // namespace vq::models
