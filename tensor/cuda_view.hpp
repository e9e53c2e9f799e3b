// Describes a tensor (or a re-strided reading of it) to the CUDA kernels.
#pragma once

#include <string>

#include "cuda/backend.hpp"
#include "tensor/tensor.hpp"

namespace vq {

inline cuda::View cuda_view(const Tensor& t, const Shape& shape, const Shape& strides) {
    if (shape.size() > size_t(cuda::kMaxDims))
        throw std::invalid_argument("CUDA kernels take at most " + std::to_string(cuda::kMaxDims) + " dims, got " +
                                    shape_str(shape));
    cuda::View v;
    v.data = t.raw_data();
    v.ndim = int(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
        v.shape[i] = shape[i];
        v.strides[i] = strides[i];
    }
    return v;
}

inline cuda::View cuda_view(const Tensor& t) { return cuda_view(t, t.shape(), t.strides()); }

}  // namespace vq
