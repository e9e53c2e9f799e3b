// Direct convolutions, one multiply-add per loop iteration. They are slow and
// obviously right: the oracle that the im2col+GEMM and CUDA paths are tested
// against. Never used on a hot path.
#include "tensor/ops.hpp"

namespace vq {

// x: [N, C, H, W], w: [O, C, kh, kw], bias: [O] -> [N, O, Ho, Wo]
Tensor conv2d_naive(const Tensor& x_in, const Tensor& w_in, const Tensor& bias, const Conv2dParams& p) {
    Tensor x = x_in.to(Device::cpu()).contiguous(), w = w_in.to(Device::cpu()).contiguous();
    int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    int64_t O = w.size(0), kh = w.size(2), kw = w.size(3);
    int64_t Ho = (H + 2 * p.pad_h - kh) / p.stride_h + 1, Wo = (W + 2 * p.pad_w - kw) / p.stride_w + 1;
    Tensor y = Tensor::zeros({N, O, Ho, Wo}, x.dtype());
    std::vector<double> b = bias.defined() ? bias.to_vector() : std::vector<double>(size_t(O), 0.0);
    dispatch_floating(x.dtype(), "conv2d_naive", [&]<typename T>() {
        const T* px = x.data<T>();
        const T* pw = w.data<T>();
        T* py = y.data<T>();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t o = 0; o < O; ++o)
                for (int64_t oh = 0; oh < Ho; ++oh)
                    for (int64_t ow = 0; ow < Wo; ++ow) {
                        double acc = b[o];
                        for (int64_t c = 0; c < C; ++c)
                            for (int64_t i = 0; i < kh; ++i)
                                for (int64_t j = 0; j < kw; ++j) {
                                    int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    acc += double(px[((n * C + c) * H + ih) * W + iw]) *
                                           double(pw[((o * C + c) * kh + i) * kw + j]);
                                }
                        py[((n * O + o) * Ho + oh) * Wo + ow] = T(acc);
                    }
    });
    return y;
}

// x: [N, Cin, H, W], w: [Cin, Cout, kh, kw], bias: [Cout] -> [N, Cout, Ho, Wo]
// Every input pixel scatters its kernel-weighted value into the output.
Tensor conv_transpose2d_naive(const Tensor& x_in, const Tensor& w_in, const Tensor& bias, const Conv2dParams& p) {
    Tensor x = x_in.to(Device::cpu()).contiguous(), w = w_in.to(Device::cpu()).contiguous();
    int64_t N = x.size(0), Ci = x.size(1), H = x.size(2), W = x.size(3);
    int64_t Co = w.size(1), kh = w.size(2), kw = w.size(3);
    int64_t Ho = (H - 1) * p.stride_h - 2 * p.pad_h + kh, Wo = (W - 1) * p.stride_w - 2 * p.pad_w + kw;
    Tensor acc = Tensor::zeros({N, Co, Ho, Wo}, DType::F64);
    double* pa = acc.data<double>();
    std::vector<double> xv = x.to_vector(), wv = w.to_vector();
    for (int64_t n = 0; n < N; ++n)
        for (int64_t ci = 0; ci < Ci; ++ci)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t ww = 0; ww < W; ++ww)
                    for (int64_t co = 0; co < Co; ++co)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                int64_t oh = h * p.stride_h - p.pad_h + i, ow = ww * p.stride_w - p.pad_w + j;
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                pa[((n * Co + co) * Ho + oh) * Wo + ow] +=
                                    xv[((n * Ci + ci) * H + h) * W + ww] * wv[((ci * Co + co) * kh + i) * kw + j];
                            }
    if (bias.defined()) {
        std::vector<double> b = bias.to_vector();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t co = 0; co < Co; ++co)
                for (int64_t i = 0; i < Ho * Wo; ++i) pa[(n * Co + co) * Ho * Wo + i] += b[co];
    }
    return acc.to(x.dtype());
}

}  // namespace vq
