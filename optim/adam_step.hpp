// One Adam/AdamW step on one parameter tensor, in place (PyTorch's formulas):
//   g' = g + wd p                     (L2; skipped when decoupled)
//   p  = p (1 - lr wd)                (AdamW, decoupled = true)
//   m  = b1 m + (1 - b1) g'
//   v  = b2 v + (1 - b2) g'^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// `step` (t) counts from 1.
#pragma once

#include "tensor/ops.hpp"

namespace vq::optim {

struct AdamConfig {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    bool decoupled = false;
};

// param, grad, m, v: [*], one shape and dtype, contiguous.
void adam_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamConfig& c, int64_t step);

}  // namespace vq::optim
