// The VQ-VAE's EMA codebook update (docs/design.md, "EMA codebook") as one
// pass over the codebook. Written with the model rather than in tensor/
// because it is the model's rule, not a general op; the CUDA kernels
// (cuda/fused.cu) do the same arithmetic.
#include "models/codebook_ema.hpp"

#include "cuda/backend.hpp"
#include "tensor/ops.hpp"

namespace vq::models {

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

}  // namespace vq::models
