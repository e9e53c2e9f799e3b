// conv2d, its two gradients and conv_transpose2d: argument checks, output
// shapes, and the one place where each op picks its CPU kernel
// (conv_cpu.cpp) or its CUDA kernel (below, calling cuda/). The naive
// kernels in conv_naive.cpp are the oracle both are tested against.
#include <string>

#include "cuda/backend.hpp"
#include "tensor/blas.hpp"
#include "tensor/conv_kernels.hpp"

namespace vq {

using conv::ConvGeometry;

namespace {

int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

void check_conv_params(const Conv2dParams& p, const char* op) {
    if (p.stride_h < 1 || p.stride_w < 1 || p.pad_h < 0 || p.pad_w < 0)
        throw std::invalid_argument(std::string(op) + ": stride must be >= 1 and padding >= 0 (got stride " +
                                    std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + ", padding " +
                                    std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) + ")");
}

void check_conv_inputs(const Tensor& x, const Tensor& w, const Tensor& bias, const char* op, int64_t bias_len) {
    check_defined(x, op);
    check_defined(w, op);
    if (x.dtype() != w.dtype() || x.device() != w.device())
        throw std::invalid_argument(std::string(op) + ": input and weight differ in dtype or device");
    if (x.dim() != 4 || w.dim() != 4)
        throw std::invalid_argument(shape_error(op, "expected a 4-D input [N, C, H, W] and a 4-D weight", x.shape(), w.shape()));
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != bias_len))
        throw std::invalid_argument(shape_error(op, "bias must be 1-D with one entry per output channel", w.shape(), bias.shape()));
}

// gy: [N, O, Ho, Wo], w: [O, C, kh, kw] -> [N, C, H, W]; shared by
// conv2d_input_grad and conv_transpose2d
Tensor transposed_conv(const Tensor& gy_in, const Tensor& w_in, int64_t H, int64_t W, const Conv2dParams& p) {
    Tensor gy = gy_in.contiguous(), w = w_in.contiguous();
    ConvGeometry g{w.size(1), H, W, w.size(2), w.size(3), gy.size(2), gy.size(3), p};
    Tensor out = Tensor::empty({gy.size(0), g.C, H, W}, gy.dtype(), gy.device());
    if (gy.is_cuda()) conv::transposed_conv_cuda(gy, w, g, out);
    else conv::transposed_conv_cpu(gy, w, g, out);
    return out;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, const Conv2dParams& p) {
    check_conv_params(p, "conv2d");
    check_conv_inputs(x_in, w_in, bias_in, "conv2d", w_in.dim() == 4 ? w_in.size(0) : 0);
    if (x_in.size(1) != w_in.size(1))
        throw std::invalid_argument(shape_error("conv2d", "input channels (dim 1) differ", x_in.shape(), w_in.shape()));
    Tensor x = x_in.contiguous(), w = w_in.contiguous();
    Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
    int64_t Ho = conv_out_size(x.size(2), w.size(2), p.stride_h, p.pad_h);
    int64_t Wo = conv_out_size(x.size(3), w.size(3), p.stride_w, p.pad_w);
    if (Ho <= 0 || Wo <= 0)
        throw std::invalid_argument(shape_error("conv2d", "kernel larger than the padded input", x.shape(), w.shape()));
    ConvGeometry g{x.size(1), x.size(2), x.size(3), w.size(2), w.size(3), Ho, Wo, p};
    Tensor y = Tensor::empty({x.size(0), w.size(0), Ho, Wo}, x.dtype(), x.device());
    if (x.is_cuda()) conv::conv2d_cuda(x, w, bias, g, y);
    else conv::conv2d_cpu(x, w, bias, g, y);
    return y;
}

Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const Shape& input_shape, const Conv2dParams& p) {
    check_conv_params(p, "conv2d_input_grad");
    check_conv_inputs(gy, w, Tensor(), "conv2d_input_grad", 0);
    if (input_shape.size() != 4 || gy.size(1) != w.size(0))
        throw std::invalid_argument(shape_error("conv2d_input_grad", "grad channels must match weight dim 0",
                                                gy.shape(), w.shape()));
    return transposed_conv(gy, w, input_shape[2], input_shape[3], p);
}

Tensor conv2d_weight_grad(const Tensor& x_in, const Tensor& gy_in, const Shape& weight_shape, const Conv2dParams& p) {
    check_conv_params(p, "conv2d_weight_grad");
    check_conv_inputs(x_in, gy_in, Tensor(), "conv2d_weight_grad", 0);
    if (weight_shape.size() != 4 || gy_in.size(0) != x_in.size(0) || weight_shape[1] != x_in.size(1))
        throw std::invalid_argument(shape_error("conv2d_weight_grad", "input and grad do not fit the weight",
                                                x_in.shape(), gy_in.shape()));
    Tensor x = x_in.contiguous(), gy = gy_in.contiguous();
    ConvGeometry g{x.size(1), x.size(2), x.size(3), weight_shape[2], weight_shape[3], gy.size(2), gy.size(3), p};
    Tensor dw = Tensor::empty(weight_shape, x.dtype(), x.device());
    if (x.is_cuda()) conv::weight_grad_cuda(x, gy, g, dw);
    else conv::weight_grad_cpu(x, gy, g, dw);
    return dw;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias_in, const Conv2dParams& p) {
    check_conv_params(p, "conv_transpose2d");
    check_conv_inputs(x, w, bias_in, "conv_transpose2d", w.dim() == 4 ? w.size(1) : 0);
    if (x.size(1) != w.size(0))
        throw std::invalid_argument(shape_error("conv_transpose2d", "input channels must match weight dim 0",
                                                x.shape(), w.shape()));
    int64_t Ho = (x.size(2) - 1) * p.stride_h - 2 * p.pad_h + w.size(2);
    int64_t Wo = (x.size(3) - 1) * p.stride_w - 2 * p.pad_w + w.size(3);
    if (Ho <= 0 || Wo <= 0)
        throw std::invalid_argument(shape_error("conv_transpose2d", "output would be empty", x.shape(), w.shape()));
    // conv_transpose2d(x, w) is conv2d's input gradient with x as the output
    // gradient and w read as [Cin, Cout, kh, kw] = [O, C, kh, kw]
    Tensor y = transposed_conv(x, w, Ho, Wo, p);
    if (!bias_in.defined()) return y;
    Tensor bias = bias_in.contiguous();
    if (y.is_cuda()) conv::add_channel_bias_cuda(y, bias);
    else conv::add_channel_bias_cpu(y, bias);
    return y;
}

// ---------------------------------------------------------------- CUDA kernels
// The same three GEMM formulations as conv_cpu.cpp, over the whole batch at
// once: cuBLAS's strided-batched GEMM and cuda/conv.cu's im2col/col2im.
namespace conv {

namespace {
cuda::ConvShape cuda_shape(int64_t N, const ConvGeometry& g) {
    return {N, g.C, g.H, g.W, g.kh, g.kw, g.Ho, g.Wo, g.p.stride_h, g.p.stride_w, g.p.pad_h, g.p.pad_w};
}
}  // namespace

// y[n] = W cols[n] for all n in one batched GEMM (W shared: stride 0)
void conv2d_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g, Tensor& y) {
    const int64_t N = x.size(0), O = w.size(0);
    Tensor cols = x;
    if (!g.is_pointwise()) {
        cols = Tensor::empty({N, g.rows(), g.cols()}, x.dtype(), x.device());
        cuda::im2col(x.dtype(), x.raw_data(), cols.raw_data(), cuda_shape(N, g), false);
    }
    blas::count_flops(O, g.cols(), g.rows(), N);
    cuda::gemm(x.dtype(), false, false, O, g.cols(), g.rows(), 1.0, w.raw_data(), g.rows(), 0, cols.raw_data(), g.cols(),
               g.rows() * g.cols(), 0.0, y.raw_data(), g.cols(), O * g.cols(), N);
    if (bias.defined()) add_channel_bias_cuda(y, bias);
}

// dcols[n] = W^T gy[n] for all n in one batched GEMM, then col2im
void transposed_conv_cuda(const Tensor& gy, const Tensor& w, const ConvGeometry& g, Tensor& out) {
    const int64_t N = gy.size(0), O = w.size(0);
    Tensor cols = g.is_pointwise() ? out : Tensor::empty({N, g.rows(), g.cols()}, gy.dtype(), gy.device());
    blas::count_flops(g.rows(), g.cols(), O, N);
    cuda::gemm(gy.dtype(), true, false, g.rows(), g.cols(), O, 1.0, w.raw_data(), g.rows(), 0, gy.raw_data(), g.cols(),
               O * g.cols(), 0.0, cols.raw_data(), g.cols(), g.rows() * g.cols(), N);
    if (!g.is_pointwise()) cuda::col2im(gy.dtype(), cols.raw_data(), out.raw_data(), cuda_shape(N, g));
}

// dW[O, CKK] = gy as [O, N*L] times cols as [CKK, N*L]^T: one GEMM over the whole batch
void weight_grad_cuda(const Tensor& x, const Tensor& gy, const ConvGeometry& g, Tensor& dw) {
    const int64_t N = x.size(0), O = dw.size(0);
    Tensor gy_rows = gy.view({N, O, g.cols()}).permute({1, 0, 2}).contiguous();
    Tensor cols;
    if (g.is_pointwise()) {
        cols = x.view({N, g.C, g.cols()}).permute({1, 0, 2}).contiguous();
    } else {
        cols = Tensor::empty({g.rows(), N, g.cols()}, x.dtype(), x.device());
        cuda::im2col(x.dtype(), x.raw_data(), cols.raw_data(), cuda_shape(N, g), true);
    }
    blas::count_flops(O, g.rows(), N * g.cols());
    cuda::gemm(x.dtype(), false, true, O, g.rows(), N * g.cols(), 1.0, gy_rows.raw_data(), N * g.cols(), 0,
               cols.raw_data(), N * g.cols(), 0, 0.0, dw.raw_data(), g.rows(), 0, 1);
}

void add_channel_bias_cuda(Tensor& y, const Tensor& bias) {
    if (y.numel() == 0) return;
    cuda::add_channel_bias(y.dtype(), y.raw_data(), bias.raw_data(), y.size(0), y.size(1),
                           y.numel() / (y.size(0) * y.size(1)));
}

}  // namespace conv

}  // namespace vq
