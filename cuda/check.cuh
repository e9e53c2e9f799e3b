// Error checking for CUDA runtime and cuBLAS calls: a failure throws with the
// call's text and the runtime's message, never a silent wrong answer.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace vq::cuda {

inline void check_cuda(cudaError_t err, const char* what, const char* file, int line) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(err) + " in " + what + " at " +
                                 file + ":" + std::to_string(line));
}

}  // namespace vq::cuda

#define VQ_CUDA_CHECK(call) ::vq::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define VQ_CUDA_CHECK_LAUNCH() VQ_CUDA_CHECK(cudaGetLastError())
