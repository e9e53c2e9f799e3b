// Reductions over any set of dims. x: [*] -> x's shape with the reduced dims
// removed (or kept as 1 with keepdim).
//
// sum/max/min accumulate straight into the output: the output is read with
// stride 0 on reduced dims, so one strided walk over x does the whole job with
// no transposed copy. argmax/argmin move their dim last instead.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "tensor/cuda_view.hpp"
#include "tensor/ops.hpp"
#include "tensor/strided_loop.hpp"

namespace vq {

namespace {

std::vector<bool> reduced_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
    std::vector<bool> mask(x.dim(), dims.empty());
    for (int64_t d : dims) {
        int64_t w = wrap_dim(d, x.dim(), op);
        if (mask[w] && !dims.empty())
            throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(d) + " listed twice");
        mask[w] = true;
    }
    return mask;
}

// Splits x's dims into two strided views of the same data: the kept dims and
// the reduced dims (the CUDA kernels' description of a reduction).
std::pair<cuda::View, cuda::View> split_views(const Tensor& x, const std::vector<bool>& mask) {
    Shape ks, kst, rs, rst;
    for (size_t i = 0; i < mask.size(); ++i) {
        (mask[i] ? rs : ks).push_back(x.shape()[i]);
        (mask[i] ? rst : kst).push_back(x.strides()[i]);
    }
    return {cuda_view(x, ks, kst), cuda_view(x, rs, rst)};
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
    Shape out;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (!mask[i]) out.push_back(shape[i]);
        else if (keepdim) out.push_back(1);
    }
    return out;
}


// NaN propagates through max/min, as in NumPy; integers have none.
template <typename T> inline bool is_nan(T v) {
    if constexpr (std::is_floating_point_v<T>) return v != v;
    else return false;
}

Tensor reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, ReduceOp kind, const char* op) {
    check_defined(x, op);
    auto mask = reduced_mask(x, dims, op);
    Shape kept = reduced_shape(x.shape(), mask, true);
    if (kind != ReduceOp::Sum)
        for (size_t i = 0; i < mask.size(); ++i)
            if (mask[i] && x.shape()[i] == 0)
                throw std::invalid_argument(std::string(op) + ": cannot reduce over a zero-size dim of " +
                                            x.shape_str());
    Tensor out;
    if (x.is_cuda()) {
        out = Tensor::empty(kept, x.dtype(), x.device());
        auto [kept_view, reduced_view] = split_views(x, mask);
        cuda::reduce(kind, x.dtype(), out.raw_data(), kept_view, reduced_view);
        return keepdim ? out : out.reshape(reduced_shape(x.shape(), mask, false));
    }
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        T init = kind == ReduceOp::Sum ? T(0)
                 : kind == ReduceOp::Max ? std::numeric_limits<T>::lowest()
                                      : std::numeric_limits<T>::max();
        if constexpr (std::is_floating_point_v<T>) {
            if (kind == ReduceOp::Max) init = -std::numeric_limits<T>::infinity();
            if (kind == ReduceOp::Min) init = std::numeric_limits<T>::infinity();
        }
        out = Tensor::empty(kept, x.dtype());
        std::fill_n(out.data<T>(), out.numel(), init);  // typed: i64 limits do not survive a double
        Shape out_strides = contiguous_strides(kept);
        for (size_t i = 0; i < mask.size(); ++i)
            if (mask[i]) out_strides[i] = 0;
        T* o = out.data<T>();
        const T* p = x.data<T>();
        detail::strided_loop<2>(x.shape(), {out_strides, x.strides()}, [&](auto off, int64_t n, auto st) {
            T* op_ = o + off[0];
            const T* xp = p + off[1];
            if (st[0] == 0) {  // reducing along the inner run: keep a register accumulator
                T acc = *op_;
                for (int64_t i = 0; i < n; ++i) {
                    T v = xp[i * st[1]];
                    if (kind == ReduceOp::Sum) acc += v;
                    else if (kind == ReduceOp::Max) acc = (v > acc || is_nan(v)) ? v : acc;
                    else acc = (v < acc || is_nan(v)) ? v : acc;
                }
                *op_ = acc;
            } else {
                for (int64_t i = 0; i < n; ++i) {
                    T v = xp[i * st[1]];
                    T& a = op_[i * st[0]];
                    if (kind == ReduceOp::Sum) a += v;
                    else if (kind == ReduceOp::Max) a = (v > a || is_nan(v)) ? v : a;
                    else a = (v < a || is_nan(v)) ? v : a;
                }
            }
        });
    });
    return keepdim ? out : out.reshape(reduced_shape(x.shape(), mask, false));
}

// The first index of a row's minimum (or maximum), NaNs skipped unless they
// come first (a leading NaN is the answer, as in the sequential scan it
// replaces). Two passes that vectorise: the extreme over 16 lanes, then the
// first index holding it (one dependent scan, where each step waits for the
// last comparison, does not vectorise).
template <typename T, bool kMax> int64_t first_extreme(const T* row, int64_t n) {
    if (row[0] != row[0]) return 0;
    constexpr int kLanes = 16;
    const T start = kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    T lane[kLanes];
    for (int l = 0; l < kLanes; ++l) lane[l] = start;
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            const T v = row[i + l];
            lane[l] = (kMax ? v > lane[l] : v < lane[l]) ? v : lane[l];  // a NaN v keeps the lane
        }
    T best = start;
    for (; i < n; ++i) best = (kMax ? row[i] > best : row[i] < best) ? row[i] : best;
    for (int l = 0; l < kLanes; ++l) best = (kMax ? lane[l] > best : lane[l] < best) ? lane[l] : best;
    for (int64_t j = 0; j < n; ++j)
        if (row[j] == best) return j;
    return 0;  // unreachable: row[0] is a number, so best is one of the row's values
}

Tensor arg_reduce(const Tensor& x, int64_t dim, bool keepdim, bool want_max, const char* op) {
    check_defined(x, op);
    int64_t d = wrap_dim(dim, x.dim(), op);
    int64_t n = x.shape()[d];
    if (n == 0) throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(dim) + " of " + x.shape_str() + " is empty");
    if (x.is_cuda()) {
        std::vector<bool> mask(size_t(x.dim()), false);
        mask[size_t(d)] = true;
        Shape out_shape = x.shape();
        if (keepdim) out_shape[d] = 1;
        else out_shape.erase(out_shape.begin() + d);
        Tensor out = Tensor::empty(out_shape, DType::I64, x.device());
        auto [kept_view, along_view] = split_views(x, mask);
        cuda::arg_reduce(want_max, x.dtype(), out.data<int64_t>(), kept_view, along_view);
        return out;
    }
    std::vector<int64_t> perm;
    for (int64_t i = 0; i < x.dim(); ++i)
        if (i != d) perm.push_back(i);
    perm.push_back(d);
    Tensor moved = x.permute(perm).contiguous();
    int64_t rows = moved.numel() / n;
    Shape out_shape = x.shape();
    if (keepdim) out_shape[d] = 1;
    else out_shape.erase(out_shape.begin() + d);
    Tensor out = Tensor::empty(out_shape, DType::I64);
    int64_t* o = out.data<int64_t>();
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        const T* p = moved.data<T>();
        for (int64_t r = 0; r < rows; ++r) {
            const T* row = p + r * n;
            if constexpr (std::is_floating_point_v<T>) {
                o[r] = want_max ? first_extreme<T, true>(row, n) : first_extreme<T, false>(row, n);
            } else {
                int64_t best = 0;
                for (int64_t i = 1; i < n; ++i)  // first index wins ties, as in NumPy
                    if (want_max ? row[i] > row[best] : row[i] < row[best]) best = i;
                o[r] = best;
            }
        }
    });
    return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    return reduce(x, dims, keepdim, ReduceOp::Sum, "sum");
}
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    return reduce(x, dims, keepdim, ReduceOp::Max, "max");
}
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    return reduce(x, dims, keepdim, ReduceOp::Min, "min");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    check_defined(x, "mean");
    auto mask = reduced_mask(x, dims, "mean");
    int64_t count = 1;
    for (size_t i = 0; i < mask.size(); ++i)
        if (mask[i]) count *= x.shape()[i];
    return div(sum(x, dims, keepdim), double(count));
}

// log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the max, so
// large inputs do not overflow. An all -inf slice gives -inf, not NaN.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    check_defined(x, "logsumexp");
    Tensor m = max(x, dims, true);
    // Clamp an infinite max to the largest finite value: an all -inf slice
    // then gives exp(-inf) = 0 and -inf overall, never inf - inf = NaN.
    double big = x.dtype() == DType::F32 ? double(std::numeric_limits<float>::max()) : std::numeric_limits<double>::max();
    Tensor finite_m = maximum(minimum(m, Tensor::scalar(big, x.dtype(), x.device())), Tensor::scalar(-big, x.dtype(), x.device()));
    Tensor s = log(sum(exp(sub(x, finite_m)), dims, true));
    Tensor out = add(s, finite_m);
    if (keepdim) return out;
    return out.reshape(reduced_shape(x.shape(), reduced_mask(x, dims, "logsumexp"), false));
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(x, dim, keepdim, true, "argmax"); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(x, dim, keepdim, false, "argmin"); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
    check_defined(x, "sum_to");
    if (x.shape() == shape) return x;
    if (shape.size() > x.shape().size())
        throw std::invalid_argument(shape_error("sum_to", "target has more dims", x.shape(), shape));
    size_t lead = x.shape().size() - shape.size();
    std::vector<int64_t> dims;
    for (size_t i = 0; i < x.shape().size(); ++i) {
        if (i < lead) dims.push_back(int64_t(i));
        else if (shape[i - lead] == 1 && x.shape()[i] != 1) dims.push_back(int64_t(i));
        else if (shape[i - lead] != x.shape()[i])
            throw std::invalid_argument(shape_error("sum_to", "shape is not a broadcast source", x.shape(), shape));
    }
    if (dims.empty()) return x.reshape(shape);
    return sum(x, dims, true).reshape(shape);
}

}  // namespace vq
