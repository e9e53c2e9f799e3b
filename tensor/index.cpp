// Gather and scatter-add, for embeddings, codebook lookups and picking the
// target's logit in cross-entropy. Each forward has its adjoint here.
#include <string>

#include <algorithm>

#include "cuda/backend.hpp"
#include "tensor/ops.hpp"

namespace vq {

namespace {

// A tensor seen as [outer, n, inner] around one dim.
struct Split3 {
    int64_t outer = 1, n = 1, inner = 1;
};
Split3 split_at(const Shape& shape, int64_t dim) {
    Split3 s;
    for (int64_t i = 0; i < dim; ++i) s.outer *= shape[i];
    s.n = shape[dim];
    for (size_t i = dim + 1; i < shape.size(); ++i) s.inner *= shape[i];
    return s;
}

void check_index(const Tensor& idx, const char* op) {
    check_defined(idx, op);
    if (idx.dtype() != DType::I64)
        throw std::invalid_argument(std::string(op) + ": indices must be i64, got " + dtype_name(idx.dtype()));
}

[[noreturn]] void bad_index(const char* op, int64_t value, int64_t size) {
    throw std::out_of_range(std::string(op) + ": index " + std::to_string(value) + " out of range [0, " +
                            std::to_string(size) + ")");
}

// Indices live wherever the data does; bounds are checked on the host.
std::vector<int64_t> host_indices(const Tensor& idx) { return idx.to_ints(); }

void check_range(const std::vector<int64_t>& v, int64_t n, const char* op) {
    for (int64_t i : v)
        if (i < 0 || i >= n) bad_index(op, i, n);
}

}  // namespace

// x: [*pre, n, *post], idx: [k] -> [*pre, k, *post]
Tensor index_select(const Tensor& x_in, int64_t dim, const Tensor& idx_in) {
    check_defined(x_in, "index_select");
    check_index(idx_in, "index_select");
    if (idx_in.dim() != 1)
        throw std::invalid_argument("index_select: indices must be 1-D, got shape " + idx_in.shape_str());
    dim = wrap_dim(dim, x_in.dim(), "index_select");
    Tensor x = x_in.contiguous(), idx = idx_in.to(x_in.device()).contiguous();
    Split3 s = split_at(x.shape(), dim);
    int64_t k = idx.numel();
    Shape out_shape = x.shape();
    out_shape[dim] = k;
    Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
    if (x.is_cuda()) {  // indices are checked on the device (cuda::check_device_errors)
        cuda::index_select(x.dtype(), x.raw_data(), idx.data<int64_t>(), out.raw_data(), s.outer, s.n, k, s.inner);
        return out;
    }
    const int64_t* pi = idx.data<int64_t>();
    for (int64_t j = 0; j < k; ++j)
        if (pi[j] < 0 || pi[j] >= s.n) bad_index("index_select", pi[j], s.n);
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        const T* px = x.data<T>();
        T* po = out.data<T>();
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t j = 0; j < k; ++j) {
                const T* src = px + (o * s.n + pi[j]) * s.inner;
                T* dst = po + (o * k + j) * s.inner;
                for (int64_t i = 0; i < s.inner; ++i) dst[i] = src[i];
            }
    });
    return out;
}

// src: [*pre, k, *post], idx: [k] -> zeros(shape) with rows idx[j] += src row j.
// Rows are added in index order, so the result is deterministic.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& idx_in, const Tensor& src_in) {
    check_defined(src_in, "index_add");
    check_index(idx_in, "index_add");
    dim = wrap_dim(dim, int64_t(shape.size()), "index_add");
    Shape expected = shape;
    expected[dim] = idx_in.numel();
    if (idx_in.dim() != 1 || src_in.shape() != expected)
        throw std::invalid_argument(shape_error("index_add", "source must have the target's shape with dim " +
                                                                 std::to_string(dim) + " = number of indices",
                                                src_in.shape(), expected));
    Tensor src = src_in.contiguous();
    Split3 s = split_at(shape, dim);
    int64_t k = idx_in.numel();
    if (src.is_cuda() && is_floating(src.dtype()) && k * s.n <= (int64_t(1) << 26)) {
        // a one-hot GEMM: deterministic and with no trip to the host
        Tensor out = Tensor::empty(shape, src.dtype(), src.device());
        Tensor idx_d = idx_in.to(src.device()).contiguous();
        cuda::index_add_onehot(src.dtype(), src.raw_data(), idx_d.data<int64_t>(), out.raw_data(), s.outer, s.n, k,
                               s.inner);
        return out;
    }
    if (src.is_cuda()) {
        // Group source rows by target row on the host (a CSR, stable in
        // index order), so the kernel sums each target's rows in a fixed order.
        std::vector<int64_t> v = host_indices(idx_in);
        check_range(v, s.n, "index_add");
        std::vector<int64_t> order(static_cast<size_t>(k)), starts(static_cast<size_t>(s.n + 1), 0);
        for (int64_t i : v) ++starts[size_t(i + 1)];
        for (int64_t t = 0; t < s.n; ++t) starts[size_t(t + 1)] += starts[size_t(t)];
        std::vector<int64_t> fill = starts;
        for (int64_t j = 0; j < k; ++j) order[size_t(fill[size_t(v[size_t(j)])]++)] = j;
        Tensor order_d = Tensor::from_vector(order, {k}).to(src.device());
        Tensor starts_d = Tensor::from_vector(starts, {s.n + 1}).to(src.device());
        Tensor out = Tensor::empty(shape, src.dtype(), src.device());
        cuda::index_add(src.dtype(), src.raw_data(), order_d.data<int64_t>(), starts_d.data<int64_t>(), out.raw_data(),
                        s.outer, s.n, k, s.inner);
        return out;
    }
    Tensor idx = idx_in.to(Device::cpu()).contiguous();
    Tensor out = Tensor::zeros(shape, src.dtype());
    const int64_t* pi = idx.data<int64_t>();
    for (int64_t j = 0; j < k; ++j)
        if (pi[j] < 0 || pi[j] >= s.n) bad_index("index_add", pi[j], s.n);
    dispatch_dtype(src.dtype(), [&]<typename T>() {
        const T* ps = src.data<T>();
        T* po = out.data<T>();
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t j = 0; j < k; ++j) {
                const T* from = ps + (o * k + j) * s.inner;
                T* to = po + (o * s.n + pi[j]) * s.inner;
                for (int64_t i = 0; i < s.inner; ++i) to[i] += from[i];
            }
    });
    return out;
}

// x: [*pre, n, *post], idx: [*pre, k, *post] -> [*pre, k, *post]
Tensor gather(const Tensor& x_in, int64_t dim, const Tensor& idx_in) {
    check_defined(x_in, "gather");
    check_index(idx_in, "gather");
    dim = wrap_dim(dim, x_in.dim(), "gather");
    bool fits = idx_in.dim() == x_in.dim();
    for (int64_t d = 0; fits && d < x_in.dim(); ++d)
        if (d != dim && idx_in.size(d) != x_in.size(d)) fits = false;
    if (!fits)
        throw std::invalid_argument(shape_error("gather", "indices must match the input except along dim " +
                                                              std::to_string(dim), x_in.shape(), idx_in.shape()));
    Tensor x = x_in.contiguous(), idx = idx_in.to(x_in.device()).contiguous();
    Split3 sx = split_at(x.shape(), dim), si = split_at(idx.shape(), dim);
    Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
    if (x.is_cuda()) {
        cuda::gather(x.dtype(), x.raw_data(), idx.data<int64_t>(), out.raw_data(), si.outer, sx.n, si.n, si.inner);
        return out;
    }
    const int64_t* pi = idx.data<int64_t>();
    dispatch_dtype(x.dtype(), [&]<typename T>() {
        const T* px = x.data<T>();
        T* po = out.data<T>();
        for (int64_t o = 0; o < si.outer; ++o)
            for (int64_t j = 0; j < si.n; ++j)
                for (int64_t i = 0; i < si.inner; ++i) {
                    int64_t at = (o * si.n + j) * si.inner + i;
                    int64_t v = pi[at];
                    if (v < 0 || v >= sx.n) bad_index("gather", v, sx.n);
                    po[at] = px[(o * sx.n + v) * sx.inner + i];
                }
    });
    return out;
}

// src, idx: [*pre, k, *post] -> zeros(shape [*pre, n, *post]) with scattered sums.
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& idx_in, const Tensor& src_in) {
    check_defined(src_in, "scatter_add");
    check_index(idx_in, "scatter_add");
    dim = wrap_dim(dim, int64_t(shape.size()), "scatter_add");
    bool fits = idx_in.shape() == src_in.shape() && idx_in.dim() == int64_t(shape.size());
    for (int64_t d = 0; fits && d < idx_in.dim(); ++d)
        if (d != dim && idx_in.size(d) != shape[d]) fits = false;
    if (!fits)
        throw std::invalid_argument(shape_error("scatter_add",
                                                "indices and source must match the target except along dim " +
                                                    std::to_string(dim),
                                                src_in.shape(), shape));
    Tensor src = src_in.contiguous(), idx = idx_in.to(src_in.device()).contiguous();
    Split3 so = split_at(shape, dim), si = split_at(idx.shape(), dim);
    if (src.is_cuda()) {
        Tensor out = Tensor::empty(shape, src.dtype(), src.device());
        cuda::scatter_add(src.dtype(), src.raw_data(), idx.data<int64_t>(), out.raw_data(), so.outer, so.n, si.n,
                          si.inner);
        return out;
    }
    Tensor out = Tensor::zeros(shape, src.dtype());
    const int64_t* pi = idx.data<int64_t>();
    dispatch_dtype(src.dtype(), [&]<typename T>() {
        const T* ps = src.data<T>();
        T* po = out.data<T>();
        for (int64_t o = 0; o < si.outer; ++o)
            for (int64_t j = 0; j < si.n; ++j)
                for (int64_t i = 0; i < si.inner; ++i) {
                    int64_t at = (o * si.n + j) * si.inner + i;
                    int64_t v = pi[at];
                    if (v < 0 || v >= so.n) bad_index("scatter_add", v, so.n);
                    po[(o * so.n + v) * so.inner + i] += ps[at];
                }
    });
    return out;
}

// parts: [.., n_i, ..] -> [.., sum n_i, ..]: each part copied into its slice
Tensor cat(const std::vector<Tensor>& parts, int64_t dim) {
    if (parts.empty()) throw std::invalid_argument("cat: needs at least one tensor");
    for (const Tensor& p : parts) check_defined(p, "cat");
    const Tensor& first = parts[0];
    dim = wrap_dim(dim, first.dim(), "cat");
    Shape out_shape = first.shape();
    out_shape[dim] = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        const Tensor& p = parts[i];
        Shape expected = first.shape();
        expected[dim] = p.dim() == first.dim() ? p.size(dim) : 0;
        const bool same_kind = p.dtype() == first.dtype() && p.device() == first.device();
        if (p.dim() != first.dim() || p.shape() != expected || !same_kind) {
            auto describe = [](const Tensor& t) {
                return t.shape_str() + " " + dtype_name(t.dtype()) + " on " + t.device().str();
            };
            throw std::invalid_argument("cat: part " + std::to_string(i) + " is " + describe(p) + ", part 0 is " +
                                        describe(first) + " (all sizes but dim " + std::to_string(dim) +
                                        " must agree)");
        }
        out_shape[dim] += p.size(dim);
    }
    Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
    int64_t at = 0;
    for (const Tensor& p : parts) {
        Tensor slice = out.narrow(dim, at, p.size(dim));
        slice.copy_from(p);
        at += p.size(dim);
    }
    return out;
}

}  // namespace vq
