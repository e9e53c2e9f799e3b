// Stand-ins for the CUDA backend when the project is built without nvcc.
#include <stdexcept>

#include "cuda/backend.hpp"

namespace vq::cuda {

[[noreturn]] static void no_cuda() {
    throw std::runtime_error(
        "this build has no CUDA backend: reconfigure with -Dcuda=enabled on a machine with nvcc "
        "(/usr/local/cuda), or use --device cpu");
}

bool built_with_cuda() { return false; }
bool available() { return false; }
void* device_alloc(size_t) { no_cuda(); }
void device_free(void*, size_t) {}
void copy_host_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t) { no_cuda(); }
void synchronize() {}
PoolStats pool_stats() { return {}; }
void fill(void*, DType, int64_t, double) { no_cuda(); }
void add_contiguous(DType, const void*, const void*, void*, int64_t) { no_cuda(); }

}  // namespace vq::cuda
