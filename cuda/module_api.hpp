// The CUDA backend is a module (libvqcuda.so), opened only when a CUDA device
// is first asked for, so that CPU runs never load cudart and cuBLAS (hundreds
// of MB and a few tenths of a second at start-up). The module hands the
// loader (cuda/loader.cpp) one table of its entry points; the loader defines
// every function of backend.hpp as a call through that table.
#pragma once

#include "cuda/backend.hpp"

// Every entry point of backend.hpp that the module implements.
#define VQ_CUDA_ENTRY_POINTS(X)                                                                          \
    X(available) X(device_count) X(use_device) X(device_alloc) X(device_free) X(copy_host_to_device)     \
    X(copy_device_to_host) X(copy_device_to_device) X(synchronize) X(pool_stats) X(fill) X(unary)        \
    X(binary) X(binary_scalar) X(copy) X(reduce) X(arg_reduce) X(gemm) X(set_tf32) X(im2col) X(col2im)   \
    X(add_channel_bias) X(index_select) X(index_add_onehot) X(index_add) X(gather) X(scatter_add)       \
    X(check_device_errors) X(adam_step) X(ema_accumulate) X(ema_codebook)

namespace vq::cuda {

// Bumped whenever an entry point changes: a module from another build is refused.
inline constexpr int kModuleApiVersion = 1;

struct ModuleApi {
    int version;
#define VQ_CUDA_API_FIELD(name) decltype(&::vq::cuda::name) name;
    VQ_CUDA_ENTRY_POINTS(VQ_CUDA_API_FIELD)
#undef VQ_CUDA_API_FIELD
};

}  // namespace vq::cuda

// The one symbol the module exports.
extern "C" const vq::cuda::ModuleApi* vq_cuda_module_api();
