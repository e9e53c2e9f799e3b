// The CUDA backend's entry points, seen by tensor/ and by nothing above it.
//
// This header is always compiled. When the project is built without CUDA,
// cuda/stub.cpp defines every function to report that clearly, so models and
// tools never need #ifdefs: they pass Device::cuda() and get a clear error.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.hpp"

namespace vq::cuda {

bool built_with_cuda();
// True when built with CUDA and at least one device is visible.
bool available();

// --- memory: a caching pool over cudaMalloc ------------------------------
void* device_alloc(size_t nbytes);
void device_free(void* ptr, size_t nbytes);
void copy_host_to_device(void* dst, const void* src, size_t nbytes);
void copy_device_to_host(void* dst, const void* src, size_t nbytes);
void copy_device_to_device(void* dst, const void* src, size_t nbytes);
void synchronize();

struct PoolStats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;
    size_t cuda_malloc_calls = 0;
};
PoolStats pool_stats();

// --- kernels on contiguous buffers ----------------------------------------
// out[i] = value, for n elements of dtype.
void fill(void* out, DType dtype, int64_t n, double value);
// out[i] = a[i] + b[i], for n contiguous elements of a floating dtype.
void add_contiguous(DType dtype, const void* a, const void* b, void* out, int64_t n);

}  // namespace vq::cuda
