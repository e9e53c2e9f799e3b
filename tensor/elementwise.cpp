// Elementwise kernels: unary maps, broadcasting binary ops, fills.
// Shapes: unary x: [*] -> [*]; binary a: [*A], b: [*B] -> broadcast([*A], [*B]).
#include <cmath>
#include <string>
#include <type_traits>

#include "cuda/backend.hpp"
#include "tensor/cuda_view.hpp"
#include "tensor/fast_math.hpp"
#include "tensor/ops.hpp"
#include "tensor/strided_loop.hpp"

namespace vq {

const char* op_name(UnaryOp op) {
    static const char* names[] = {"neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt",
                                  "abs", "square", "softplus", "log1p", "sign"};
    return names[int(op)];
}
const char* op_name(BinaryOp op) {
    static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                  "eq", "ne", "lt", "le", "gt", "ge", "relu_grad"};
    return names[int(op)];
}

static void check_same(const Tensor& a, const Tensor& b, const char* op) {
    check_defined(a, op);
    check_defined(b, op);
    if (a.dtype() != b.dtype())
        throw std::invalid_argument(std::string(op) + ": dtypes differ (" + dtype_name(a.dtype()) + " and " +
                                    dtype_name(b.dtype()) + ")");
    if (a.device() != b.device())
        throw std::invalid_argument(std::string(op) + ": devices differ (" + a.device().str() + " and " +
                                    b.device().str() + ")");
}

template <typename T> static inline T apply_unary(UnaryOp op, T x) {
    switch (op) {
        case UnaryOp::Neg: return -x;
        case UnaryOp::Exp:
            if constexpr (std::is_same_v<T, float>) return fast::exp(x);
            return std::exp(x);
        case UnaryOp::Log: return std::log(x);
        case UnaryOp::Tanh:
            if constexpr (std::is_same_v<T, float>) return fast::tanh(x);
            return std::tanh(x);
        case UnaryOp::Sigmoid: {
            if constexpr (std::is_same_v<T, float>) return fast::sigmoid(x);
            // split by sign so exp never overflows
            if (x >= 0) return T(1) / (T(1) + std::exp(-x));
            T e = std::exp(x);
            return e / (T(1) + e);
        }
        case UnaryOp::Relu: return x > 0 ? x : T(0);
        case UnaryOp::Sqrt: return std::sqrt(x);
        case UnaryOp::Abs: return std::abs(x);
        case UnaryOp::Square: return x * x;
        case UnaryOp::Softplus: return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::abs(x)));
        case UnaryOp::Log1p: return std::log1p(x);
        case UnaryOp::Sign: return T((x > 0) - (x < 0));
    }
    return x;
}

template <typename T> static inline T apply_binary(BinaryOp op, T a, T b) {
    switch (op) {
        case BinaryOp::Add: return a + b;
        case BinaryOp::Sub: return a - b;
        case BinaryOp::Mul: return a * b;
        case BinaryOp::Div: return a / b;
        case BinaryOp::Pow: return T(std::pow(double(a), double(b)));
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

// The switch sits outside the inner loop so that each op's loop is a tight,
// vectorisable body.
template <typename T, typename F>
static void unary_loop(const Tensor& out, const Tensor& x, F f) {
    T* o = out.data<T>();
    const T* p = x.data<T>();
    detail::parallel_strided_loop<2>(out.shape(), {out.strides(), x.strides()}, [&](auto off, int64_t n, auto st) {
        T* op = o + off[0];
        const T* xp = p + off[1];
        if (st[0] == 1 && st[1] == 1)
            for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i]);
        else
            for (int64_t i = 0; i < n; ++i) op[i * st[0]] = f(xp[i * st[1]]);
    });
}

Tensor unary(UnaryOp op, const Tensor& x) {
    check_defined(x, op_name(op));
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (x.dtype() == DType::I64) {
        if (op != UnaryOp::Neg && op != UnaryOp::Abs && op != UnaryOp::Sign && op != UnaryOp::Square)
            throw std::invalid_argument(std::string(op_name(op)) + ": expected a floating tensor, got i64");
    }
    if (x.is_cuda()) {
        cuda::unary(op, x.dtype(), cuda_view(out), cuda_view(x));
        return out;
    }
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        switch (op) {
#define VQ_UNARY_CASE(NAME) \
    case UnaryOp::NAME: unary_loop<T>(out, x, [](T v) { return apply_unary(UnaryOp::NAME, v); }); break;
            VQ_UNARY_CASE(Neg) VQ_UNARY_CASE(Exp) VQ_UNARY_CASE(Log) VQ_UNARY_CASE(Tanh)
            VQ_UNARY_CASE(Sigmoid) VQ_UNARY_CASE(Relu) VQ_UNARY_CASE(Sqrt) VQ_UNARY_CASE(Abs)
            VQ_UNARY_CASE(Square) VQ_UNARY_CASE(Softplus) VQ_UNARY_CASE(Log1p) VQ_UNARY_CASE(Sign)
#undef VQ_UNARY_CASE
        }
    });
    return out;
}

template <typename T, typename F>
static void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    Shape sa = broadcast_strides(a.shape(), a.strides(), out.shape());
    Shape sb = broadcast_strides(b.shape(), b.strides(), out.shape());
    detail::parallel_strided_loop<3>(out.shape(), {out.strides(), sa, sb}, [&](auto off, int64_t n, auto st) {
        T* op = o + off[0];
        const T* ap = pa + off[1];
        const T* bp = pb + off[2];
        if (st[0] == 1 && st[1] == 1 && st[2] == 1)
            for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bp[i]);
        else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
            const T bv = *bp;
            for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bv);
        } else
            for (int64_t i = 0; i < n; ++i) op[i * st[0]] = f(ap[i * st[1]], bp[i * st[2]]);
    });
}

static void binary_into(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
    if (out.is_cuda()) {
        cuda::binary(op, out.dtype(), cuda_view(out), cuda_view(a, out.shape(), broadcast_strides(a.shape(), a.strides(), out.shape())),
                     cuda_view(b, out.shape(), broadcast_strides(b.shape(), b.strides(), out.shape())));
        return;
    }
    dispatch_dtype(out.dtype(), [&]<typename T>() {
        switch (op) {
#define VQ_BINARY_CASE(NAME) \
    case BinaryOp::NAME: binary_loop<T>(out, a, b, [](T x, T y) { return apply_binary(BinaryOp::NAME, x, y); }); break;
            VQ_BINARY_CASE(Add) VQ_BINARY_CASE(Sub) VQ_BINARY_CASE(Mul) VQ_BINARY_CASE(Div)
            VQ_BINARY_CASE(Pow) VQ_BINARY_CASE(Max) VQ_BINARY_CASE(Min) VQ_BINARY_CASE(Eq)
            VQ_BINARY_CASE(Ne) VQ_BINARY_CASE(Lt) VQ_BINARY_CASE(Le) VQ_BINARY_CASE(Gt)
            VQ_BINARY_CASE(Ge) VQ_BINARY_CASE(ReluGrad)
#undef VQ_BINARY_CASE
        }
    });
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    check_same(a, b, op_name(op));
    Shape shape = broadcast_shapes(a.shape(), b.shape(), op_name(op));
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    binary_into(op, out, a, b);
    return out;
}

Tensor binary(BinaryOp op, const Tensor& a, double b) {
    check_defined(a, op_name(op));
    if (a.is_cuda()) {
        Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
        cuda::binary_scalar(op, a.dtype(), cuda_view(out), cuda_view(a), b);
        return out;
    }
    return binary(op, a, Tensor::scalar(b, a.dtype(), a.device()));
}

void binary_(BinaryOp op, Tensor& a, const Tensor& b) {
    check_same(a, b, op_name(op));
    Shape shape = broadcast_shapes(a.shape(), b.shape(), op_name(op));
    if (shape != a.shape())
        throw std::invalid_argument(shape_error(op_name(op), "in-place result must keep the first shape",
                                                a.shape(), b.shape()));
    binary_into(op, a, a, b);
}

void mul_(Tensor& a, double b) { binary_(BinaryOp::Mul, a, Tensor::scalar(b, a.dtype(), a.device())); }

void fill_(Tensor& x, double value) {
    check_defined(x, "fill_");
    if (x.is_cuda()) {
        cuda::fill(cuda_view(x), x.dtype(), value);
        return;
    }
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        T* p = x.data<T>();
        const T v = T(value);
        detail::parallel_strided_loop<1>(x.shape(), {x.strides()}, [&](auto off, int64_t n, auto st) {
            for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = v;
        });
    });
}

}  // namespace vq
