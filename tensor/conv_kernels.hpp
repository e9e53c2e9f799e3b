// The convolution kernels behind tensor/conv.cpp's ops. conv.cpp checks the
// arguments, allocates the output and picks a device; these only compute.
// Internal to tensor/: not part of the public API (tensor/ops.hpp).
#pragma once

#include "tensor/ops.hpp"

namespace vq::conv {

// The shape of one convolution, seen from its im2col matrix: rows() = C*kh*kw
// (one per input channel and kernel offset), cols() = Ho*Wo (one per output
// pixel). Transposed convs and gradients reuse it with the roles swapped.
struct ConvGeometry {
    int64_t C, H, W;     // input channels and size (the "image" side)
    int64_t kh, kw;
    int64_t Ho, Wo;      // output size (the "column" side)
    Conv2dParams p;
    int64_t rows() const { return C * kh * kw; }
    int64_t cols() const { return Ho * Wo; }
    // one input plane with its zero padding: padded_w() wide, plane_size() in all
    int64_t padded_w() const { return W + 2 * p.pad_w; }
    int64_t plane_size() const { return (H + 2 * p.pad_h) * padded_w(); }
    bool is_pointwise() const {
        return kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
    }
};

// Every tensor below is contiguous, of one dtype, on the kernel's device; the
// outputs are allocated by the caller and fully overwritten (N images).

// x: [N, C, H, W], w: [O, C, kh, kw], bias: [O] or undefined -> y: [N, O, Ho, Wo]
void conv2d_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g, Tensor& y);
void conv2d_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g, Tensor& y);

// gy: [N, O, Ho, Wo], w: [O, C, kh, kw] -> out: [N, C, H, W] = col2im(W^T gy[n]):
// conv2d's input gradient and, with the roles named the other way, conv_transpose2d.
void transposed_conv_cpu(const Tensor& gy, const Tensor& w, const ConvGeometry& g, Tensor& out);
void transposed_conv_cuda(const Tensor& gy, const Tensor& w, const ConvGeometry& g, Tensor& out);

// x: [N, C, H, W], gy: [N, O, Ho, Wo] -> dw: [O, C, kh, kw] = sum_n gy[n] cols[n]^T
void weight_grad_cpu(const Tensor& x, const Tensor& gy, const ConvGeometry& g, Tensor& dw);
void weight_grad_cuda(const Tensor& x, const Tensor& gy, const ConvGeometry& g, Tensor& dw);

// y: [N, C, *] += bias: [C] per channel
void add_channel_bias_cpu(Tensor& y, const Tensor& bias);
void add_channel_bias_cuda(Tensor& y, const Tensor& bias);

}  // namespace vq::conv
