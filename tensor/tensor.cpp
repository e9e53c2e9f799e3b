#include "tensor/tensor.hpp"

#include <algorithm>
#include <cstring>

#include "cuda/backend.hpp"
#include "tensor/cuda_view.hpp"
#include "tensor/ops.hpp"
#include "tensor/strided_loop.hpp"

namespace vq {

Device Device::parse(const std::string& text) {
    if (text == "cpu") return cpu();
    if (text == "cuda") return cuda();
    if (text.rfind("cuda:", 0) == 0)
        throw std::invalid_argument("device '" + text + "': a process uses one GPU, given as 'cuda'; "
                                    "choose which with CUDA_VISIBLE_DEVICES");
    throw std::invalid_argument("unknown device '" + text + "': expected cpu or cuda");
}

void check_defined(const Tensor& t, const char* op) {
    if (!t.defined()) throw std::invalid_argument(std::string(op) + ": tensor is undefined");
}

// ---------------------------------------------------------------- creation

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t s : shape)
        if (s < 0) throw std::invalid_argument("empty: negative size in shape " + vq::shape_str(shape));
    size_t nbytes = size_t(shape_numel(shape)) * dtype_size(dtype);
    return Tensor(Storage::allocate(nbytes, device), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    fill_(t, value);
    return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
    Tensor t = empty({n}, dtype);
    dispatch_dtype(dtype, [&]<typename T>() {
        T* p = t.data<T>();
        for (int64_t i = 0; i < n; ++i) p[i] = T(i);
    });
    return device.is_cpu() ? t : t.to(device);
}

template <typename T>
static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
    if (int64_t(values.size()) != shape_numel(shape))
        throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                    " values do not fill shape " + vq::shape_str(shape));
    Tensor t = Tensor::empty(shape, dtype_of<T>());
    if (!values.empty()) std::memcpy(t.data<T>(), values.data(), values.size() * sizeof(T));
    return t;
}
Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s) { return from_values(v, s); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s) { return from_values(v, s); }
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s) { return from_values(v, s); }

// ---------------------------------------------------------------- metadata

int64_t Tensor::size(int64_t d) const { return shape_[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides_[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
    int64_t expected = 1;
    for (size_t i = shape_.size(); i-- > 0;) {
        if (shape_[i] == 1) continue;
        if (strides_[i] != expected) return false;
        expected *= shape_[i];
    }
    return true;
}

// ---------------------------------------------------------------- views

static Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from) {
    Shape out = shape;
    int64_t known = 1, infer_at = -1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
            if (infer_at >= 0) throw std::invalid_argument("reshape: only one dim may be -1, got " + shape_str(shape));
            infer_at = int64_t(i);
        } else {
            known *= out[i];
        }
    }
    if (infer_at >= 0 && known != 0 && numel % known == 0) out[infer_at] = numel / known;
    if (shape_numel(out) != numel || (infer_at >= 0 && known == 0))
        throw std::invalid_argument(shape_error("reshape", "element counts differ", from, shape));
    return out;
}

// Strides for viewing (old_shape, old_strides) as new_shape without a copy,
// if they exist. Old dims are grouped into chunks that are contiguous within
// themselves; each chunk must map onto a run of new dims with the same element
// count (the rule PyTorch's view uses).
static bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape,
                         Shape& out) {
    out.assign(new_shape.size(), 0);
    if (old_shape.empty() || shape_numel(old_shape) == 0) {
        out = contiguous_strides(new_shape);
        return true;
    }
    int64_t view_d = int64_t(new_shape.size()) - 1;
    int64_t chunk_base_stride = old_strides.back();
    int64_t tensor_numel = 1, view_numel = 1;
    for (int64_t d = int64_t(old_shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= old_shape[d];
        bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 &&
                                     old_strides[d - 1] != tensor_numel * chunk_base_stride);
        if (!chunk_ends) continue;
        while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
            out[view_d] = view_numel * chunk_base_stride;
            view_numel *= new_shape[view_d];
            --view_d;
        }
        if (view_numel != tensor_numel) return false;
        if (d > 0) {
            chunk_base_stride = old_strides[d - 1];
            tensor_numel = 1;
            view_numel = 1;
        }
    }
    return view_d == -1;
}

Tensor Tensor::view(const Shape& shape) const {
    check_defined(*this, "view");
    Shape target = infer_shape(shape, numel(), shape_);
    Shape strides;
    if (!view_strides(shape_, strides_, target, strides))
        throw std::invalid_argument(shape_error("view", "layout is not viewable; use reshape", shape_, target));
    return with_layout(target, strides, offset_);
}

Tensor Tensor::reshape(const Shape& shape) const {
    check_defined(*this, "reshape");
    Shape target = infer_shape(shape, numel(), shape_);
    Shape strides;
    if (view_strides(shape_, strides_, target, strides)) return with_layout(target, strides, offset_);
    return contiguous().view(target);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    if (int64_t(dims.size()) != dim())
        throw std::invalid_argument(shape_error("permute", "needs one entry per dim", shape_, Shape(dims)));
    Shape shape(dims.size()), strides(dims.size());
    std::vector<bool> seen(dims.size(), false);
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = wrap_dim(dims[i], dim(), "permute");
        if (seen[d]) throw std::invalid_argument("permute: dim " + std::to_string(d) + " repeated in " + vq::shape_str(Shape(dims)));
        seen[d] = true;
        shape[i] = shape_[d];
        strides[i] = strides_[d];
    }
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
    std::vector<int64_t> dims(shape_.size());
    for (size_t i = 0; i < dims.size(); ++i) dims[i] = int64_t(i);
    std::swap(dims[wrap_dim(a, dim(), "transpose")], dims[wrap_dim(b, dim(), "transpose")]);
    return permute(dims);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
    d = wrap_dim(d, dim(), "narrow");
    if (start < 0 || length < 0 || start + length > shape_[d])
        throw std::invalid_argument("narrow: range [" + std::to_string(start) + ", " +
                                    std::to_string(start + length) + ") outside dim " + std::to_string(d) +
                                    " of shape " + vq::shape_str(shape_));
    Shape shape = shape_;
    shape[d] = length;
    return with_layout(shape, strides_, offset_ + start * strides_[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
    d = wrap_dim(d, dim(), "slice");
    if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
    int64_t n = shape_[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = std::clamp<int64_t>(start, 0, n);
    end = std::clamp<int64_t>(end, start, n);
    Shape shape = shape_, strides = strides_;
    shape[d] = (end - start + step - 1) / step;
    strides[d] *= step;
    return with_layout(shape, strides, offset_ + start * strides_[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    d = wrap_dim(d, dim(), "select");
    if (index < 0) index += shape_[d];
    if (index < 0 || index >= shape_[d])
        throw std::invalid_argument("select: index " + std::to_string(index) + " out of range for dim " +
                                    std::to_string(d) + " of shape " + vq::shape_str(shape_));
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return with_layout(shape, strides, offset_ + index * strides_[d]);
}

Tensor Tensor::expand(const Shape& shape) const {
    if (shape.size() < shape_.size())
        throw std::invalid_argument(shape_error("expand", "target has fewer dims", shape_, shape));
    Shape target = shape;
    size_t lead = shape.size() - shape_.size();
    for (size_t i = 0; i < shape_.size(); ++i) {
        if (target[lead + i] == -1) target[lead + i] = shape_[i];
        if (shape_[i] != 1 && shape_[i] != target[lead + i])
            throw std::invalid_argument(shape_error("expand", "only size-1 dims can grow", shape_, shape));
    }
    return with_layout(target, broadcast_strides(shape_, strides_, target), offset_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
    d = wrap_dim(d, dim() + 1, "unsqueeze");
    Shape shape = shape_, strides = strides_;
    int64_t s = d < dim() ? strides_[d] * shape_[d] : 1;
    shape.insert(shape.begin() + d, 1);
    strides.insert(strides.begin() + d, s);
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::squeeze(int64_t d) const {
    d = wrap_dim(d, dim(), "squeeze");
    if (shape_[d] != 1)
        throw std::invalid_argument("squeeze: dim " + std::to_string(d) + " of shape " + vq::shape_str(shape_) +
                                    " is not 1");
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return with_layout(shape, strides, offset_);
}

// ---------------------------------------------------------------- copies

Tensor Tensor::contiguous() const {
    check_defined(*this, "contiguous");
    return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
    check_defined(*this, "clone");
    Tensor out = empty(shape_, dtype_, device());
    out.copy_from(*this);
    return out;
}

Tensor Tensor::to(Device device) const {
    check_defined(*this, "to");
    if (device == this->device()) return *this;
    Tensor out = empty(shape_, dtype_, device);
    out.copy_from(*this);
    return out;
}

Tensor Tensor::to(DType dtype) const {
    check_defined(*this, "to");
    if (dtype == dtype_) return *this;
    Tensor out = empty(shape_, dtype, device());
    out.copy_from(*this);
    return out;
}

// Strided, converting copy between two CPU tensors of the same shape.
static void copy_cpu(const Tensor& dst, const Tensor& src) {
    dispatch_dtype(dst.dtype(), [&]<typename D>() {
        dispatch_dtype(src.dtype(), [&]<typename S>() {
            D* d = dst.data<D>();
            const S* s = src.data<S>();
            detail::parallel_strided_loop<2>(dst.shape(), {dst.strides(), src.strides()},
                                    [&](auto off, int64_t n, auto st) {
                                        D* dp = d + off[0];
                                        const S* sp = s + off[1];
                                        for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = D(sp[i * st[1]]);
                                    });
        });
    });
}

void Tensor::copy_from(const Tensor& src) {
    check_defined(*this, "copy_from");
    check_defined(src, "copy_from");
    if (src.shape() != shape_) throw std::invalid_argument(shape_error("copy_from", "shapes differ", shape_, src.shape()));
    if (device().is_cpu() && src.device().is_cpu()) return copy_cpu(*this, src);
    if (device() == src.device()) {  // on one GPU: a strided, converting kernel
        cuda::copy(cuda_view(*this), dtype_, cuda_view(src), src.dtype());
        return;
    }
    // Across devices: convert and compact on the source side, move one
    // contiguous block, then re-stride on the destination side if needed.
    Tensor s = src.to(dtype_).contiguous();
    if (!is_contiguous()) {
        Tensor staged = empty(shape_, dtype_, device());
        staged.copy_from(s);
        copy_from(staged);
        return;
    }
    size_t nbytes = size_t(numel()) * dtype_size(dtype_);
    if (nbytes == 0) return;
    if (device().is_cuda()) cuda::copy_host_to_device(raw_data(), s.raw_data(), nbytes);
    else cuda::copy_device_to_host(raw_data(), s.raw_data(), nbytes);
}

// ---------------------------------------------------------------- element access

std::vector<double> Tensor::to_vector() const {
    check_defined(*this, "to_vector");
    Tensor c = to(Device::cpu()).to(DType::F64).contiguous();
    const double* p = c.data<double>();
    return std::vector<double>(p, p + c.numel());
}

std::vector<float> Tensor::to_floats() const {
    Tensor c = to(Device::cpu()).to(DType::F32).contiguous();
    const float* p = c.data<float>();
    return std::vector<float>(p, p + c.numel());
}

std::vector<int64_t> Tensor::to_ints() const {
    Tensor c = to(Device::cpu()).to(DType::I64).contiguous();
    const int64_t* p = c.data<int64_t>();
    return std::vector<int64_t>(p, p + c.numel());
}

double Tensor::item() const {
    if (numel() != 1)
        throw std::invalid_argument("item: expected one element, got shape " + vq::shape_str(shape_));
    return to_vector()[0];
}

double Tensor::at(std::initializer_list<int64_t> index) const {
    if (int64_t(index.size()) != dim())
        throw std::invalid_argument("at: " + std::to_string(index.size()) + " indices for shape " + vq::shape_str(shape_));
    Tensor t = *this;
    int64_t d = 0;
    for (int64_t i : index) t = t.select(0, i), ++d;
    return t.item();
}

}  // namespace vq
