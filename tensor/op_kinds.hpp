// The kinds of elementwise op, shared by the CPU kernels and the CUDA backend.
#pragma once

namespace vq {

enum class UnaryOp {
    Neg, Exp, Log, Tanh, Sigmoid, Relu, Sqrt, Abs, Square, Softplus, Log1p, Sign,
};
enum class BinaryOp {
    Add, Sub, Mul, Div, Pow, Max, Min, Eq, Ne, Lt, Le, Gt, Ge,
    ReluGrad,  // a where b > 0 else 0: ReLU's backward (a the gradient, b its output), in one pass
};
enum class ReduceOp { Sum, Max, Min };

}  // namespace vq
