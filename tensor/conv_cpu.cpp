// The CPU convolution kernels: conv2d and its transposes as im2col/col2im +
// GEMM (OpenBLAS), per chunk of images, on reused thread-local scratch
// buffers, with the batch split across the CPU pool.
//
// PERFORMANCE CODE. Everything here is about speed: the layout copies, the
// compile-time row widths and the scratch buffers. To learn what a
// convolution computes, read conv_naive.cpp, the oracle these kernels are
// tested against (tests/test_tensor_conv_index.cpp); docs/performance.md
// says what each trick bought.
#include <algorithm>
#include <vector>

#include "tensor/blas.hpp"
#include "tensor/conv_kernels.hpp"
#include "tensor/parallel.hpp"

namespace vq::conv {

namespace {

// Three scratch buffers per thread (columns, a channel-major copy of
// activations, one channel's padded planes), grown on demand and never
// shrunk: convs ask for the same few sizes every step.
template <typename T> T* scratch(int slot, size_t count) {
    thread_local std::vector<char> buffers[3];
    std::vector<char>& b = buffers[slot];
    if (b.size() < count * sizeof(T)) b.resize(count * sizeof(T));
    return reinterpret_cast<T*>(b.data());
}

// Images per GEMM: as many as fit a column buffer of 2^19 elements (2 MB in
// f32). Batching makes the GEMMs large enough for BLAS to run near its peak;
// the cap bounds memory (two such buffers per pool thread) and keeps the
// buffer and BLAS's packed copy of it near the core (docs/performance.md).
int64_t images_per_chunk(const ConvGeometry& g, int64_t N) {
    const int64_t budget = int64_t(1) << 19;  // elements
    return std::max<int64_t>(1, std::min<int64_t>(N, budget / std::max<int64_t>(1, g.rows() * g.cols())));
}

// The copies in this file move runs of 7 to 196 values. GCC would turn their
// loops (and std::copy/fill) into memmove/memset calls that cost more than such
// a short copy, so they are plain loops compiled without that pattern.
#if defined(__GNUC__) && !defined(__clang__)
#define VQ_NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define VQ_NO_MEMCPY_CALLS
#endif

// a: [n, C, L] <-> b: [C, n*L] (channel-major), the layout the batched GEMMs use
template <typename T> VQ_NO_MEMCPY_CALLS void to_channel_major(const T* a, int64_t n, int64_t C, int64_t L, T* b) {
    for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < C; ++c) {
            const T* src = a + (j * C + c) * L;
            T* dst = b + c * n * L + j * L;
            for (int64_t i = 0; i < L; ++i) dst[i] = src[i];
        }
}
// (with bias [C], the conv's bias is added in the same pass)
template <typename T>
VQ_NO_MEMCPY_CALLS void from_channel_major(const T* b, int64_t n, int64_t C, int64_t L, T* a, const T* bias = nullptr) {
    for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < C; ++c) {
            const T* src = b + c * n * L + j * L;
            T* dst = a + (j * C + c) * L;
            if (bias) {
                const T bc = bias[c];
                for (int64_t i = 0; i < L; ++i) dst[i] = src[i] + bc;
            } else {
                for (int64_t i = 0; i < L; ++i) dst[i] = src[i];
            }
        }
}

// Rows here are short (7 to 28 values). WO and S, when not 0, fix the row
// width and stride at compile time for the shapes the reference models use,
// so that each row is straight-line code rather than a short loop.
//
// Both directions work one channel at a time on the n images' zero-padded
// planes ([n, H + 2 pad_h, W + 2 pad_w], a few KB that stay in L1): every
// kernel offset then reads a plain window with no bounds tests, and each
// column row is written (or read) as one contiguous stream over the images.

// x: [n, C, H, W] -> cols: [C*kh*kw, n*Ho*Wo] (row-major; image j's columns at j*Ho*Wo)
template <typename T, int64_t WO, int64_t S>
VQ_NO_MEMCPY_CALLS void im2col_rows(const T* x, const ConvGeometry& g, int64_t n, T* cols, T* planes) {
    const int64_t ph = g.p.pad_h, pw = g.p.pad_w, Wp = g.padded_w(), P = g.plane_size();
    const int64_t ld = n * g.cols(), row_step = g.p.stride_h * Wp;
    const int64_t wo = WO ? WO : g.Wo, s = S ? S : g.p.stride_w;
    const bool padded = ph > 0 || pw > 0;
    if (padded)
        for (int64_t i = 0; i < n * P; ++i) planes[i] = T(0);  // borders stay zero for every channel
    for (int64_t c = 0; c < g.C; ++c) {
        const T* base = x + c * g.H * g.W;
        int64_t image_step = g.C * g.H * g.W;
        if (padded) {
            for (int64_t j = 0; j < n; ++j)
                for (int64_t h = 0; h < g.H; ++h) {
                    const T* src = x + ((j * g.C + c) * g.H + h) * g.W;
                    T* dst = planes + j * P + (h + ph) * Wp + pw;
                    for (int64_t w = 0; w < g.W; ++w) dst[w] = src[w];
                }
            base = planes;
            image_step = P;
        }
        for (int64_t ki = 0; ki < g.kh; ++ki)
            for (int64_t kj = 0; kj < g.kw; ++kj) {
                T* out = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
                for (int64_t j = 0; j < n; ++j) {
                    const T* in = base + j * image_step + ki * Wp + kj;  // (oh, ow) reads in[oh * row_step + ow * s]
                    for (int64_t oh = 0; oh < g.Ho; ++oh, out += wo, in += row_step)
                        for (int64_t ow = 0; ow < wo; ++ow) out[ow] = in[ow * s];
                }
            }
    }
}

// cols: [C*kh*kw, n*Ho*Wo] -> x: [n, C, H, W], summing overlaps in kernel
// order (ki, kj) on zeroed padded planes, then keeping their interiors
template <typename T, int64_t WO, int64_t S>
VQ_NO_MEMCPY_CALLS void col2im_rows(const T* cols, const ConvGeometry& g, int64_t n, T* x, T* planes) {
    const int64_t ph = g.p.pad_h, pw = g.p.pad_w, Wp = g.padded_w(), P = g.plane_size();
    const int64_t ld = n * g.cols(), row_step = g.p.stride_h * Wp;
    const int64_t wo = WO ? WO : g.Wo, s = S ? S : g.p.stride_w;
    for (int64_t c = 0; c < g.C; ++c) {
        for (int64_t i = 0; i < n * P; ++i) planes[i] = T(0);
        for (int64_t ki = 0; ki < g.kh; ++ki)
            for (int64_t kj = 0; kj < g.kw; ++kj) {
                const T* in = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
                for (int64_t j = 0; j < n; ++j) {
                    T* out = planes + j * P + ki * Wp + kj;
                    for (int64_t oh = 0; oh < g.Ho; ++oh, in += wo, out += row_step)
                        for (int64_t ow = 0; ow < wo; ++ow) out[ow * s] += in[ow];
                }
            }
        for (int64_t j = 0; j < n; ++j)
            for (int64_t h = 0; h < g.H; ++h) {
                const T* src = planes + j * P + (h + ph) * Wp + pw;
                T* dst = x + ((j * g.C + c) * g.H + h) * g.W;
                for (int64_t w = 0; w < g.W; ++w) dst[w] = src[w];
            }
    }
}

// Picks the compile-time row shape: (7, 1) and (8, 1) for the 7x7 latent
// maps, (14, 1) for 14x14 ones, (7, 2) and (14, 2) for the stride-2 convs;
// anything else runs the generic body.
template <typename T, typename F> void with_row_shape(const ConvGeometry& g, F f) {
    const int64_t wo = g.Wo, s = g.p.stride_w;
    if (wo == 7 && s == 1) return f.template operator()<7, 1>();
    if (wo == 8 && s == 1) return f.template operator()<8, 1>();
    if (wo == 7 && s == 2) return f.template operator()<7, 2>();
    if (wo == 14 && s == 2) return f.template operator()<14, 2>();
    if (wo == 14 && s == 1) return f.template operator()<14, 1>();
    return f.template operator()<0, 0>();
}

// the n padded planes of one channel
template <typename T> T* plane_scratch(const ConvGeometry& g, int64_t n) {
    return scratch<T>(2, size_t(n * g.plane_size()));
}

template <typename T> void im2col(const T* x, const ConvGeometry& g, int64_t n, T* cols) {
    if (g.is_pointwise()) return to_channel_major(x, n, g.C, g.cols(), cols);  // 1x1: whole rows move
    T* planes = plane_scratch<T>(g, n);
    with_row_shape<T>(g, [&]<int64_t WO, int64_t S>() { im2col_rows<T, WO, S>(x, g, n, cols, planes); });
}

template <typename T> void col2im(const T* cols, const ConvGeometry& g, int64_t n, T* x) {
    if (g.is_pointwise()) return from_channel_major(cols, n, g.C, g.cols(), x);
    T* planes = plane_scratch<T>(g, n);
    with_row_shape<T>(g, [&]<int64_t WO, int64_t S>() { col2im_rows<T, WO, S>(cols, g, n, x, planes); });
}

}  // namespace

// x: [N, C, H, W], w: [O, C, kh, kw], bias: [O] or undefined -> y: [N, O, Ho, Wo]
void conv2d_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g, Tensor& y) {
    const int64_t N = x.size(0), O = w.size(0);
    dispatch_floating(x.dtype(), "conv2d", [&]<typename T>() {
        // per chunk of images: y [O, n*L] = W [O, CKK] @ cols [CKK, n*L], then back to [n, O, L]
        const T* px = x.data<T>();
        const T* pw = w.data<T>();
        T* py = y.data<T>();
        const T* pb = bias.defined() ? bias.data<T>() : nullptr;
        const int64_t chunk = images_per_chunk(g, N), L = g.cols();
        parallel_for(N, 1, [&](int64_t, int64_t b0, int64_t b1) {
            for (int64_t n0 = b0; n0 < b1; n0 += chunk) {
                const int64_t n = std::min(chunk, b1 - n0);
                T* cols = scratch<T>(0, size_t(g.rows() * n * L));
                im2col(px + n0 * g.C * g.H * g.W, g, n, cols);
                T* y_cm = scratch<T>(1, size_t(O * n * L));
                blas::gemm<T>(false, false, O, n * L, g.rows(), T(1), pw, g.rows(), cols, n * L, T(0), y_cm, n * L);
                from_channel_major(y_cm, n, O, L, py + n0 * O * L, pb);
            }
        });
    });
}

// gy: [N, O, Ho, Wo], w: [O, C, kh, kw] -> out: [N, C, H, W]
void transposed_conv_cpu(const Tensor& gy, const Tensor& w, const ConvGeometry& g, Tensor& out) {
    const int64_t N = gy.size(0), O = w.size(0), H = g.H, W = g.W;
    dispatch_floating(gy.dtype(), "conv", [&]<typename T>() {
        // per chunk of images: dcols [CKK, n*L] = W^T [CKK, O] @ gy [O, n*L], then col2im
        const T* pw = w.data<T>();
        const T* pg = gy.data<T>();
        T* po = out.data<T>();
        const int64_t chunk = images_per_chunk(g, N), L = g.cols();
        parallel_for(N, 1, [&](int64_t, int64_t b0, int64_t b1) {
            for (int64_t n0 = b0; n0 < b1; n0 += chunk) {
                const int64_t n = std::min(chunk, b1 - n0);
                T* gy_cm = scratch<T>(1, size_t(O * n * L));
                to_channel_major(pg + n0 * O * L, n, O, L, gy_cm);
                T* cols = scratch<T>(0, size_t(g.rows() * n * L));
                blas::gemm<T>(true, false, g.rows(), n * L, O, T(1), pw, g.rows(), gy_cm, n * L, T(0), cols, n * L);
                col2im(cols, g, n, po + n0 * g.C * H * W);
            }
        });
    });
}

// x: [N, C, H, W], gy: [N, O, Ho, Wo] -> dw: [O, C, kh, kw]
void weight_grad_cpu(const Tensor& x, const Tensor& gy, const ConvGeometry& g, Tensor& dw) {
    const int64_t N = x.size(0), O = dw.size(0);
    dispatch_floating(x.dtype(), "conv2d_weight_grad", [&]<typename T>() {
        // per chunk of images: dW [O, CKK] (+)= gy [O, n*L] @ cols [CKK, n*L]^T
        const T* px = x.data<T>();
        const T* pg = gy.data<T>();
        T* pd = dw.data<T>();
        // each part sums its images into its own dW; parts are added in order
        const int64_t chunk = images_per_chunk(g, N), L = g.cols(), parts = parallel_parts(N, 1), size = dw.numel();
        std::vector<T> partials(size_t((parts - 1) * size));
        parallel_for(N, 1, [&](int64_t part, int64_t b0, int64_t b1) {
            T* acc = part == 0 ? pd : partials.data() + (part - 1) * size;
            std::fill(acc, acc + size, T(0));
            for (int64_t n0 = b0; n0 < b1; n0 += chunk) {
                const int64_t n = std::min(chunk, b1 - n0);
                T* cols = scratch<T>(0, size_t(g.rows() * n * L));
                im2col(px + n0 * g.C * g.H * g.W, g, n, cols);
                T* gy_cm = scratch<T>(1, size_t(O * n * L));
                to_channel_major(pg + n0 * O * L, n, O, L, gy_cm);
                blas::gemm<T>(false, true, O, g.rows(), n * L, T(1), gy_cm, n * L, cols, n * L, T(1), acc, g.rows());
            }
        });
        for (int64_t part = 1; part < parts; ++part) {
            const T* src = partials.data() + (part - 1) * size;
            for (int64_t i = 0; i < size; ++i) pd[i] += src[i];
        }
    });
}

// y: [N, C, *] += bias: [C]
void add_channel_bias_cpu(Tensor& y, const Tensor& bias) {
    const int64_t N = y.size(0), C = y.size(1), HW = y.numel() / std::max<int64_t>(1, N * C);
    dispatch_floating(y.dtype(), "conv bias", [&]<typename T>() {
        T* py = y.data<T>();
        const T* b = bias.data<T>();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) {
                T* p = py + (n * C + c) * HW;
                for (int64_t i = 0; i < HW; ++i) p[i] += b[c];
            }
    });
}

}  // namespace vq::conv
