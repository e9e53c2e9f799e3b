// Tensor: a strided view over shared, reference-counted storage.
//
// A Tensor is a cheap handle (a shared_ptr to Storage plus shape, strides,
// offset and dtype). Views (reshape, permute, narrow, expand) share storage and
// never copy; contiguous() copies only when the layout requires it. Strides and
// offsets count elements, not bytes, as in PyTorch.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/dtype.hpp"
#include "tensor/shape.hpp"
#include "tensor/storage.hpp"

namespace vq {

class Tensor {
public:
    Tensor() = default;  // an undefined tensor; defined() is false

    // --- creation -------------------------------------------------------
    static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                       Device device = Device::cpu());
    static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu());
    static Tensor arange(int64_t n, DType dtype = DType::F32, Device device = Device::cpu());
    // Copies host values into a new CPU tensor of the given shape.
    static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
    static Tensor from_vector(const std::vector<double>& values, const Shape& shape);
    static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);

    // --- metadata -------------------------------------------------------
    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t size(int64_t d) const;
    int64_t stride(int64_t d) const;
    int64_t numel() const { return shape_numel(shape_); }
    int64_t offset() const { return offset_; }
    DType dtype() const { return dtype_; }
    Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
    bool is_cuda() const { return device().is_cuda(); }
    bool is_contiguous() const;
    const std::shared_ptr<Storage>& storage() const { return storage_; }
    bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

    // Raw pointer to element [0, ..., 0]; T must match dtype().
    template <typename T> T* data() const {
        check_dtype_for<T>();
        return static_cast<T*>(storage_->data()) + offset_;
    }
    void* raw_data() const {
        return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
    }

    // --- views (no copy) -------------------------------------------------
    Tensor view(const Shape& shape) const;     // requires a compatible layout
    Tensor reshape(const Shape& shape) const;  // view if possible, else copy
    Tensor flatten() const { return reshape({numel()}); }
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor transpose(int64_t a, int64_t b) const;
    Tensor t() const { return transpose(0, 1); }
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
    Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
    Tensor select(int64_t dim, int64_t index) const;  // drops dim
    Tensor expand(const Shape& shape) const;          // broadcast view, stride 0
    Tensor unsqueeze(int64_t dim) const;
    Tensor squeeze(int64_t dim) const;

    // --- copies -----------------------------------------------------------
    Tensor contiguous() const;  // this if already contiguous
    Tensor clone() const;       // always a fresh contiguous copy
    Tensor to(Device device) const;
    Tensor to(DType dtype) const;
    void copy_from(const Tensor& src);  // same shape; dtype and device may differ

    // --- element access (host; slow, for tests and small glue) -------------
    double item() const;                     // one-element tensors
    double at(std::initializer_list<int64_t> index) const;
    std::vector<double> to_vector() const;   // row-major values as double
    std::vector<float> to_floats() const;
    std::vector<int64_t> to_ints() const;

    std::string shape_str() const { return vq::shape_str(shape_); }

private:
    Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype)
        : storage_(std::move(storage)), shape_(std::move(shape)), strides_(std::move(strides)),
          offset_(offset), dtype_(dtype) {}
    template <typename T> void check_dtype_for() const {
        if (dtype_of<T>() != dtype_)
            throw std::runtime_error("tensor of dtype " + std::string(dtype_name(dtype_)) +
                                     " accessed as " + dtype_name(dtype_of<T>()));
    }
    Tensor with_layout(Shape shape, Shape strides, int64_t offset) const {
        return Tensor(storage_, std::move(shape), std::move(strides), offset, dtype_);
    }

    std::shared_ptr<Storage> storage_;
    Shape shape_;
    Shape strides_;
    int64_t offset_ = 0;
    DType dtype_ = DType::F32;
};

// Throws std::invalid_argument naming the op when t is undefined.
void check_defined(const Tensor& t, const char* op);

}  // namespace vq
