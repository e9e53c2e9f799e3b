// Fused kernels: several elementwise steps in one pass over memory, where the
// composed version would allocate temporaries on a hot path.
#include <cmath>

#include "cuda/backend.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

namespace vq {

// param, grad, m, v: [*] (same shape, contiguous)
void adam_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamConfig& c, int64_t step) {
    for (const Tensor* t : {&grad, static_cast<const Tensor*>(&m), static_cast<const Tensor*>(&v)})
        if (t->shape() != param.shape() || !t->is_contiguous() || t->dtype() != param.dtype())
            throw std::invalid_argument(shape_error("adam_step_", "param, grad and moments must match and be contiguous",
                                                    param.shape(), t->shape()));
    if (!param.is_contiguous()) throw std::invalid_argument("adam_step_: param must be contiguous");
    const double bias1 = 1.0 - std::pow(c.beta1, double(step));
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(c.beta2, double(step)));
    if (param.is_cuda()) {
        cuda::adam_step(param.dtype(), param.raw_data(), grad.raw_data(), m.raw_data(), v.raw_data(), param.numel(), c.lr,
                        c.beta1, c.beta2, c.eps, c.weight_decay, c.decoupled, bias1, bias2_sqrt);
        return;
    }
    dispatch_floating(param.dtype(), "adam_step_", [&]<typename T>() {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* pm = m.data<T>();
        T* pv = v.data<T>();
        const T lr = T(c.lr), b1 = T(c.beta1), b2 = T(c.beta2), eps = T(c.eps), wd = T(c.weight_decay);
        const T step_size = T(c.lr / bias1), inv_b2 = T(1.0 / bias2_sqrt);
        parallel_for(param.numel(), kElementwiseGrain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                T gi = g[i];
                if (c.decoupled) p[i] *= T(1) - lr * wd;
                else gi += wd * p[i];
                pm[i] = b1 * pm[i] + (T(1) - b1) * gi;
                pv[i] = b2 * pv[i] + (T(1) - b2) * gi * gi;
                p[i] -= step_size * pm[i] / (std::sqrt(pv[i]) * inv_b2 + eps);
            }
        });
    });
}

// count, usage: [K]; sums: [K, D]; stats: [K, D+1] -> e: [K, D]
Tensor codebook_ema_(Tensor& count, Tensor& sums, Tensor& usage, const Tensor& stats_in, double decay, double eps) {
    const int64_t K = sums.size(0), D = sums.size(1);
    if (count.shape() != Shape{K} || usage.shape() != Shape{K} || stats_in.shape() != Shape{K, D + 1} ||
        !count.is_contiguous() || !sums.is_contiguous() || !usage.is_contiguous())
        throw std::invalid_argument(shape_error("codebook_ema_", "expected count [K], sums [K, D], stats [K, D+1]",
                                                sums.shape(), stats_in.shape()));
    Tensor stats = stats_in.contiguous();
    Tensor e = Tensor::empty({K, D}, sums.dtype(), sums.device());
    if (sums.is_cuda()) {
        cuda::ema_accumulate(sums.dtype(), count.raw_data(), sums.raw_data(), usage.raw_data(), stats.raw_data(), K, D, decay);
        Tensor total = sum(count);
        cuda::ema_codebook(sums.dtype(), e.raw_data(), count.raw_data(), sums.raw_data(), total.raw_data(), K, D, eps);
        return e;
    }
    dispatch_floating(sums.dtype(), "codebook_ema_", [&]<typename T>() {
        T* n = count.data<T>();
        T* m = sums.data<T>();
        T* u = usage.data<T>();
        const T* st = stats.data<T>();
        double total = 0;
        for (int64_t k = 0; k < K; ++k) {
            const T* row = st + k * (D + 1);
            for (int64_t j = 0; j < D; ++j) m[k * D + j] = T(decay) * m[k * D + j] + T(1 - decay) * row[j];
            n[k] = T(decay) * n[k] + T(1 - decay) * row[D];
            u[k] += row[D];
            total += double(n[k]);
        }
        T* pe = e.data<T>();
        for (int64_t k = 0; k < K; ++k) {
            T smoothed = T((double(n[k]) + eps) / (total + double(K) * eps) * total);
            for (int64_t j = 0; j < D; ++j) pe[k * D + j] = m[k * D + j] / smoothed;
        }
    });
    return e;
}

}  // namespace vq
