// Elementwise CUDA kernels over strided views. Same stem as
// tensor/elementwise.cpp, whose CPU loops are the oracle in the parity tests.
// Shapes: every view has the output's shape (broadcast inputs use stride 0).
#include <cmath>

#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

template <typename T> __device__ inline T apply_unary(UnaryOp op, T x) {
    if constexpr (std::is_floating_point_v<T>) {
        switch (op) {
            case UnaryOp::Neg: return -x;
            case UnaryOp::Exp: return exp(x);
            case UnaryOp::Log: return log(x);
            case UnaryOp::Tanh: return tanh(x);
            case UnaryOp::Sigmoid: {
                if (x >= T(0)) return T(1) / (T(1) + exp(-x));
                T e = exp(x);
                return e / (T(1) + e);
            }
            case UnaryOp::Relu: return x > T(0) ? x : T(0);
            case UnaryOp::Sqrt: return sqrt(x);
            case UnaryOp::Abs: return fabs(x);
            case UnaryOp::Square: return x * x;
            case UnaryOp::Softplus: return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
            case UnaryOp::Log1p: return log1p(x);
            case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
        }
    } else {
        switch (op) {
            case UnaryOp::Neg: return -x;
            case UnaryOp::Abs: return x < 0 ? -x : x;
            case UnaryOp::Square: return x * x;
            case UnaryOp::Sign: return T((x > 0) - (x < 0));
            case UnaryOp::Relu: return x > 0 ? x : 0;
            default: return x;  // the host rejects the rest for i64
        }
    }
    return x;
}

template <typename T> __device__ inline T apply_binary(BinaryOp op, T a, T b) {
    switch (op) {
        case BinaryOp::Add: return a + b;
        case BinaryOp::Sub: return a - b;
        case BinaryOp::Mul: return a * b;
        case BinaryOp::Div: return a / b;
        case BinaryOp::Pow: return T(pow(double(a), double(b)));
        case BinaryOp::Max: return a > b ? a : b;
        case BinaryOp::Min: return a < b ? a : b;
        case BinaryOp::Eq: return T(a == b);
        case BinaryOp::Ne: return T(a != b);
        case BinaryOp::Lt: return T(a < b);
        case BinaryOp::Le: return T(a <= b);
        case BinaryOp::Gt: return T(a > b);
        case BinaryOp::Ge: return T(a >= b);
        case BinaryOp::ReluGrad: return b > T(0) ? a : T(0);
    }
    return a;
}

// out: [*] = value
template <typename T> __global__ void fill_kernel(View out, int64_t n, T value) {
    T* o = static_cast<T*>(out.data);
    VQ_GRID_STRIDE_LOOP(i, n) o[offset_of(out, i)] = value;
}
template <typename T> __global__ void fill_contiguous_kernel(T* out, int64_t n, T value) {
    VQ_GRID_STRIDE_LOOP(i, n) out[i] = value;
}

// out, x: [*]; out = f(x). Contig = every view contiguous (index directly).
template <typename T, bool Contig> __global__ void unary_kernel(UnaryOp op, View out, View x, int64_t n) {
    T* o = static_cast<T*>(out.data);
    const T* p = static_cast<const T*>(x.data);
    VQ_GRID_STRIDE_LOOP(i, n) {
        if constexpr (Contig) o[i] = apply_unary(op, p[i]);
        else o[offset_of(out, i)] = apply_unary(op, p[offset_of(x, i)]);
    }
}

// out, a, b: [*] (a, b broadcast); out = f(a, b)
template <typename T, bool Contig> __global__ void binary_kernel(BinaryOp op, View out, View a, View b, int64_t n) {
    T* o = static_cast<T*>(out.data);
    const T* pa = static_cast<const T*>(a.data);
    const T* pb = static_cast<const T*>(b.data);
    VQ_GRID_STRIDE_LOOP(i, n) {
        if constexpr (Contig) o[i] = apply_binary(op, pa[i], pb[i]);
        else o[offset_of(out, i)] = apply_binary(op, pa[offset_of(a, i)], pb[offset_of(b, i)]);
    }
}

// out, a: [*]; out = f(a, b) for a scalar b
template <typename T, bool Contig> __global__ void binary_scalar_kernel(BinaryOp op, View out, View a, T b, int64_t n) {
    T* o = static_cast<T*>(out.data);
    const T* pa = static_cast<const T*>(a.data);
    VQ_GRID_STRIDE_LOOP(i, n) {
        if constexpr (Contig) o[i] = apply_binary(op, pa[i], b);
        else o[offset_of(out, i)] = apply_binary(op, pa[offset_of(a, i)], b);
    }
}

// out: [*] = convert(src: [*])
template <typename D, typename S> __global__ void copy_kernel(View out, View src, int64_t n) {
    D* o = static_cast<D*>(out.data);
    const S* s = static_cast<const S*>(src.data);
    VQ_GRID_STRIDE_LOOP(i, n) o[offset_of(out, i)] = D(s[offset_of(src, i)]);
}

}  // namespace

void fill(const View& out, DType dtype, double value) {
    int64_t n = numel(out);
    if (n == 0) return;
    dispatch(dtype, [&]<typename T>() {
        if (is_contiguous(out)) fill_contiguous_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(out.data), n, T(value));
        else fill_kernel<T><<<grid_for(n), kThreads>>>(out, n, T(value));
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void unary(UnaryOp op, DType dtype, const View& out, const View& x) {
    int64_t n = numel(out);
    if (n == 0) return;
    bool contig = is_contiguous(out) && is_contiguous(x);
    dispatch(dtype, [&]<typename T>() {
        if (contig) unary_kernel<T, true><<<grid_for(n), kThreads>>>(op, out, x, n);
        else unary_kernel<T, false><<<grid_for(n), kThreads>>>(op, out, x, n);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void binary(BinaryOp op, DType dtype, const View& out, const View& a, const View& b) {
    int64_t n = numel(out);
    if (n == 0) return;
    bool contig = is_contiguous(out) && is_contiguous(a) && is_contiguous(b) && numel(a) == n && numel(b) == n;
    dispatch(dtype, [&]<typename T>() {
        if (contig) binary_kernel<T, true><<<grid_for(n), kThreads>>>(op, out, a, b, n);
        else binary_kernel<T, false><<<grid_for(n), kThreads>>>(op, out, a, b, n);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void binary_scalar(BinaryOp op, DType dtype, const View& out, const View& a, double b) {
    int64_t n = numel(out);
    if (n == 0) return;
    bool contig = is_contiguous(out) && is_contiguous(a);
    dispatch(dtype, [&]<typename T>() {
        if (contig) binary_scalar_kernel<T, true><<<grid_for(n), kThreads>>>(op, out, a, T(b), n);
        else binary_scalar_kernel<T, false><<<grid_for(n), kThreads>>>(op, out, a, T(b), n);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void copy(const View& out, DType out_dtype, const View& src, DType src_dtype) {
    int64_t n = numel(out);
    if (n == 0) return;
    dispatch(out_dtype, [&]<typename D>() {
        dispatch(src_dtype, [&]<typename S>() { copy_kernel<D, S><<<grid_for(n), kThreads>>>(out, src, n); });
    });
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
