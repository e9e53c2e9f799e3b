// Fused kernels: several elementwise steps in one pass over memory, where the
// composed version would allocate temporaries on a hot path.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda/backend.hpp"
#include "tensor/fast_math.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

namespace vq {

namespace {

// One (b, c) row of the gate, n values each way. The float versions are also
// built for AVX2 (picked when the CPU loader sees it): twice the SIMD width
// for the exp in tanh and sigmoid, which dominate the gate.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VQ_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define VQ_AVX2_CLONE
#endif

// t, s, o: [n]; o = tanh(t) sigmoid(s)
template <typename T> inline void gate_loop(const T* t, const T* s, T* o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = fast::tanh(t[i]) * fast::sigmoid(s[i]);
}
VQ_AVX2_CLONE void gate_row(const float* t, const float* s, float* o, int64_t n) { gate_loop(t, s, o, n); }
void gate_row(const double* t, const double* s, double* o, int64_t n) { gate_loop(t, s, o, n); }

// t, s, g: [n] -> dt, ds: [n]; dt = g sig (1 - tanh^2), ds = g tanh sig (1 - sig)
template <typename T> inline void gate_grad_loop(const T* t, const T* s, const T* g, T* dt, T* ds, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const T th = fast::tanh(t[i]), sg = fast::sigmoid(s[i]);
        dt[i] = g[i] * sg * (T(1) - th * th);
        ds[i] = g[i] * th * sg * (T(1) - sg);
    }
}
VQ_AVX2_CLONE void gate_grad_row(const float* t, const float* s, const float* g, float* dt, float* ds, int64_t n) {
    gate_grad_loop(t, s, g, dt, ds, n);
}
void gate_grad_row(const double* t, const double* s, const double* g, double* dt, double* ds, int64_t n) {
    gate_grad_loop(t, s, g, dt, ds, n);
}

// a: [B, 2C, *] -> (B, C, inner) with the checks both directions share
struct GateShape {
    int64_t B, C, inner;
};
GateShape gate_shape(const Tensor& a, const char* op) {
    check_defined(a, op);
    if (a.dim() < 2 || a.size(1) % 2 != 0)
        throw std::invalid_argument(std::string(op) + ": expected [B, 2C, ...] with an even channel count, got " +
                                    a.shape_str());
    const int64_t B = a.size(0), C = a.size(1) / 2;
    return {B, C, B * C == 0 ? 0 : a.numel() / (B * 2 * C)};
}

}  // namespace

// The composed forms: what the CUDA path runs (its elementwise, reduction
// and gather kernels are tested against the CPU), and the oracle the fused
// CPU kernels are tested against.
namespace composed {

Tensor gated_tanh(const Tensor& a) {
    const int64_t C = a.size(1) / 2;
    return mul(tanh(a.narrow(1, 0, C)), sigmoid(a.narrow(1, C, C)));
}

Tensor gated_tanh_backward(const Tensor& a, const Tensor& g) {
    const int64_t C = a.size(1) / 2;
    Tensor t = tanh(a.narrow(1, 0, C)), sg = sigmoid(a.narrow(1, C, C)), one = Tensor::ones({}, a.dtype(), a.device());
    Tensor da = Tensor::empty(a.shape(), a.dtype(), a.device());
    Tensor d_t = da.narrow(1, 0, C), d_s = da.narrow(1, C, C);
    d_t.copy_from(mul(mul(g, sg), sub(one, square(t))));
    d_s.copy_from(mul(mul(g, t), mul(sg, sub(one, sg))));
    return da;
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, Tensor* lse_out) {
    Tensor lse = logsumexp(logits, {1}, false);
    Tensor picked = gather(logits, 1, target.unsqueeze(1)).squeeze(1);
    if (lse_out) *lse_out = lse;
    return sub(lse, picked);
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g) {
    Tensor g1 = g.unsqueeze(1);
    Tensor soft = exp(sub(logits, lse.unsqueeze(1)));
    return sub(mul(g1, soft), scatter_add(logits.shape(), 1, target.unsqueeze(1), g1));
}

}  // namespace composed

// a: [B, 2C, *] -> out: [B, C, *]
Tensor gated_tanh(const Tensor& a_in) {
    const GateShape s = gate_shape(a_in, "gated_tanh");
    if (a_in.is_cuda()) return composed::gated_tanh(a_in);
    Shape out_shape = a_in.shape();
    out_shape[1] = s.C;
    Tensor a = a_in.contiguous(), out = Tensor::empty(out_shape, a.dtype(), a.device());
    dispatch_floating(a.dtype(), "gated_tanh", [&]<typename T>() {
        const T* pa = a.data<T>();
        T* po = out.data<T>();
        // one row = one (b, c) pair: its tanh half and its sigmoid half
        parallel_for(s.B * s.C, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, s.inner)),
                     [&](int64_t, int64_t r0, int64_t r1) {
                         for (int64_t r = r0; r < r1; ++r) {
                             const int64_t b = r / s.C, c = r % s.C;
                             const T* t_in = pa + (b * 2 * s.C + c) * s.inner;
                             gate_row(t_in, t_in + s.C * s.inner, po + r * s.inner, s.inner);
                         }
                     });
    });
    return out;
}

// a: [B, 2C, *], g: [B, C, *] -> da: [B, 2C, *]
Tensor gated_tanh_backward(const Tensor& a_in, const Tensor& g_in) {
    const GateShape s = gate_shape(a_in, "gated_tanh_backward");
    Shape half = a_in.shape();
    half[1] = s.C;
    check_defined(g_in, "gated_tanh_backward");
    if (g_in.shape() != half)
        throw std::invalid_argument(shape_error("gated_tanh_backward", "grad must be the gate's output shape",
                                                a_in.shape(), g_in.shape()));
    if (a_in.is_cuda()) return composed::gated_tanh_backward(a_in, g_in);
    Tensor da = Tensor::empty(a_in.shape(), a_in.dtype(), a_in.device());
    Tensor a = a_in.contiguous(), g = g_in.contiguous();
    dispatch_floating(a.dtype(), "gated_tanh_backward", [&]<typename T>() {
        const T* pa = a.data<T>();
        const T* pg = g.data<T>();
        T* pd = da.data<T>();
        parallel_for(s.B * s.C, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, s.inner)),
                     [&](int64_t, int64_t r0, int64_t r1) {
                         for (int64_t r = r0; r < r1; ++r) {
                             const int64_t b = r / s.C, c = r % s.C, t_off = (b * 2 * s.C + c) * s.inner,
                                           s_off = t_off + s.C * s.inner;
                             gate_grad_row(pa + t_off, pa + s_off, pg + r * s.inner, pd + t_off, pd + s_off, s.inner);
                         }
                     });
    });
    return da;
}

namespace {

// logits [N, C, *] and target [N, *] as (N, C, S), with the shape and range checks
struct ClassShape {
    int64_t N, C, S;
};
ClassShape class_shape(const Tensor& logits, const Tensor& target, const char* op) {
    check_defined(logits, op);
    check_defined(target, op);
    if (logits.dim() < 2 || target.dim() != logits.dim() - 1 || target.size(0) != logits.size(0) ||
        target.dtype() != DType::I64)
        throw std::invalid_argument(shape_error(op, "expected logits [N, C, *] and i64 targets [N, *]", logits.shape(),
                                                target.shape()));
    for (int64_t d = 1; d < target.dim(); ++d)
        if (target.size(d) != logits.size(d + 1))
            throw std::invalid_argument(shape_error(op, "spatial dims differ", logits.shape(), target.shape()));
    const int64_t N = logits.size(0), C = logits.size(1);
    return {N, C, N * C == 0 ? 0 : logits.numel() / (N * C)};
}

}  // namespace

// logits: [N, C, S], target: [N, S] -> loss, lse: [N, S]
Tensor cross_entropy_loss(const Tensor& logits_in, const Tensor& target_in, Tensor* lse_out) {
    const ClassShape k = class_shape(logits_in, target_in, "cross_entropy");
    if (logits_in.is_cuda()) return composed::cross_entropy_loss(logits_in, target_in, lse_out);
    Tensor logits = logits_in.contiguous(), target = target_in.contiguous();
    Tensor loss = Tensor::empty(target.shape(), logits.dtype()), lse = Tensor::empty(target.shape(), logits.dtype());
    const int64_t* pt = target.data<int64_t>();
    for (int64_t i = 0; i < target.numel(); ++i)
        if (pt[i] < 0 || pt[i] >= k.C)
            throw std::invalid_argument("cross_entropy: target class " + std::to_string(pt[i]) + " outside [0, " +
                                        std::to_string(k.C) + ")");
    dispatch_floating(logits.dtype(), "cross_entropy", [&]<typename T>() {
        const T* px = logits.data<T>();
        T* pl = loss.data<T>();
        T* pm = lse.data<T>();
        // per sample: classes outer, positions inner, so the inner loops are contiguous
        parallel_for(k.N, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, k.C * k.S)),
                     [&](int64_t, int64_t n0, int64_t n1) {
                         std::vector<T> sum(static_cast<size_t>(k.S));
                         for (int64_t n = n0; n < n1; ++n) {
                             const T* x = px + n * k.C * k.S;
                             T* m = pm + n * k.S;
                             std::copy(x, x + k.S, m);
                             for (int64_t c = 1; c < k.C; ++c)
                                 for (int64_t s = 0; s < k.S; ++s) m[s] = std::max(m[s], x[c * k.S + s]);
                             std::fill(sum.begin(), sum.end(), T(0));
                             for (int64_t c = 0; c < k.C; ++c)
                                 for (int64_t s = 0; s < k.S; ++s) sum[size_t(s)] += fast::exp(x[c * k.S + s] - m[s]);
                             for (int64_t s = 0; s < k.S; ++s) {
                                 m[s] += std::log(sum[size_t(s)]);
                                 pl[n * k.S + s] = m[s] - x[pt[n * k.S + s] * k.S + s];
                             }
                         }
                     });
    });
    if (lse_out) *lse_out = lse;
    return loss;
}

// logits: [N, C, S], target, lse, g: [N, S] -> dlogits: [N, C, S]
Tensor cross_entropy_backward(const Tensor& logits_in, const Tensor& target_in, const Tensor& lse_in, const Tensor& g_in) {
    const ClassShape k = class_shape(logits_in, target_in, "cross_entropy_backward");
    if (lse_in.shape() != target_in.shape() || g_in.shape() != target_in.shape())
        throw std::invalid_argument(shape_error("cross_entropy_backward", "lse and grad must have the target's shape",
                                                target_in.shape(), g_in.shape()));
    if (logits_in.is_cuda()) return composed::cross_entropy_backward(logits_in, target_in, lse_in, g_in);
    Tensor logits = logits_in.contiguous(), target = target_in.contiguous(), lse = lse_in.contiguous(),
           g = g_in.contiguous();
    Tensor d = Tensor::empty(logits.shape(), logits.dtype());
    dispatch_floating(logits.dtype(), "cross_entropy_backward", [&]<typename T>() {
        const T* px = logits.data<T>();
        const T* pm = lse.data<T>();
        const T* pg = g.data<T>();
        const int64_t* pt = target.data<int64_t>();
        T* pd = d.data<T>();
        parallel_for(k.N, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, k.C * k.S)),
                     [&](int64_t, int64_t n0, int64_t n1) {
                         for (int64_t n = n0; n < n1; ++n) {
                             const T* x = px + n * k.C * k.S;
                             const T *m = pm + n * k.S, *gr = pg + n * k.S;
                             T* out = pd + n * k.C * k.S;
                             for (int64_t c = 0; c < k.C; ++c)
                                 for (int64_t s = 0; s < k.S; ++s) out[c * k.S + s] = gr[s] * fast::exp(x[c * k.S + s] - m[s]);
                             for (int64_t s = 0; s < k.S; ++s) out[pt[n * k.S + s] * k.S + s] -= gr[s];
                         }
                     });
    });
    return d;
}

}  // namespace vq
