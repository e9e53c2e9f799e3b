// im2col / col2im / bias kernels for the GEMM convolutions. Same stem as
// tensor/conv.cpp; conv2d_naive is the oracle in the parity tests.
#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

// x: [N, C, H, W] -> cols: [N, C*kh*kw, Ho*Wo], or [C*kh*kw, N, Ho*Wo] when rows_outer
template <typename T> __global__ void im2col_kernel(const T* x, T* cols, ConvShape s, bool rows_outer, int64_t total) {
    const int64_t L = s.Ho * s.Wo, rows = s.C * s.kh * s.kw;
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t l = i % L;
        int64_t row = (i / L) % rows;
        int64_t n = i / (L * rows);
        int64_t kj = row % s.kw, ki = (row / s.kw) % s.kh, c = row / (s.kw * s.kh);
        int64_t oh = l / s.Wo, ow = l % s.Wo;
        int64_t ih = oh * s.stride_h - s.pad_h + ki, iw = ow * s.stride_w - s.pad_w + kj;
        T v = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) ? x[((n * s.C + c) * s.H + ih) * s.W + iw] : T(0);
        int64_t dst = rows_outer ? (row * s.N + n) * L + l : i;
        cols[dst] = v;
    }
}

// cols: [N, C*kh*kw, Ho*Wo] -> x: [N, C, H, W]; every x element sums the
// column entries that read it, in a fixed (ki, kj) order
template <typename T> __global__ void col2im_kernel(const T* cols, T* x, ConvShape s, int64_t total) {
    const int64_t L = s.Ho * s.Wo, rows = s.C * s.kh * s.kw;
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t iw = i % s.W, ih = (i / s.W) % s.H, c = (i / (s.W * s.H)) % s.C, n = i / (s.W * s.H * s.C);
        T acc = T(0);
        for (int64_t ki = 0; ki < s.kh; ++ki) {
            int64_t oh_s = ih + s.pad_h - ki;
            if (oh_s < 0 || oh_s % s.stride_h != 0) continue;
            int64_t oh = oh_s / s.stride_h;
            if (oh >= s.Ho) continue;
            for (int64_t kj = 0; kj < s.kw; ++kj) {
                int64_t ow_s = iw + s.pad_w - kj;
                if (ow_s < 0 || ow_s % s.stride_w != 0) continue;
                int64_t ow = ow_s / s.stride_w;
                if (ow >= s.Wo) continue;
                int64_t row = (c * s.kh + ki) * s.kw + kj;
                acc += cols[(n * rows + row) * L + oh * s.Wo + ow];
            }
        }
        x[i] = acc;
    }
}

// y: [N, C, HW] += b[C]
template <typename T> __global__ void bias_kernel(T* y, const T* b, int64_t C, int64_t HW, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) y[i] += b[(i / HW) % C];
}

}  // namespace

void im2col(DType dtype, const void* x, void* cols, const ConvShape& s, bool rows_outer) {
    int64_t total = s.N * s.C * s.kh * s.kw * s.Ho * s.Wo;
    if (total == 0) return;
    dispatch_floating(dtype, [&]<typename T>() {
        im2col_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(x), static_cast<T*>(cols), s, rows_outer, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void col2im(DType dtype, const void* cols, void* x, const ConvShape& s) {
    int64_t total = s.N * s.C * s.H * s.W;
    if (total == 0) return;
    dispatch_floating(dtype, [&]<typename T>() {
        col2im_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(cols), static_cast<T*>(x), s, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void add_channel_bias(DType dtype, void* y, const void* bias, int64_t N, int64_t C, int64_t HW) {
    int64_t total = N * C * HW;
    if (total == 0) return;
    dispatch_floating(dtype, [&]<typename T>() {
        bias_kernel<T><<<grid_for(total), kThreads>>>(static_cast<T*>(y), static_cast<const T*>(bias), C, HW, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
