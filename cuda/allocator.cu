// The device memory pool: a caching allocator over cudaMalloc.
//
// cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds; a training step frees and re-allocates the same sizes every
// step, so freed blocks go to a free list keyed by rounded size and are
// handed out again. All work runs on the default stream, so a block freed by
// the host can be reused by the next kernel without an event.
#include <map>
#include <mutex>
#include <vector>

#include "cuda/backend.hpp"
#include "cuda/check.cuh"

namespace vq::cuda {

namespace {

size_t round_size(size_t n) {
    if (n < 512) return 512;
    if (n < (1u << 20)) return (n + 511) & ~size_t(511);
    return (n + (1u << 20) - 1) & ~size_t((1u << 20) - 1);
}

struct Pool {
    std::mutex mutex;
    std::map<size_t, std::vector<void*>> free_blocks;
    PoolStats stats;

    void release_cache_locked() {
        for (auto& [size, blocks] : free_blocks)
            for (void* p : blocks) cudaFree(p);
        free_blocks.clear();
        stats.bytes_cached = 0;
    }
};

Pool& pool() {
    static auto* p = new Pool();  // outlives static tensors at exit
    return *p;
}

}  // namespace

bool built_with_cuda() { return true; }

bool available() {
    static const bool present = [] {
        int n = 0;
        return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    }();
    return present;
}

int device_count() {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

void use_device(int index) {
    const int n = device_count();
    if (index < 0 || index >= n)
        throw std::runtime_error("CUDA device " + std::to_string(index) + " requested, but " + std::to_string(n) +
                                 " device(s) are visible");
    VQ_CUDA_CHECK(cudaSetDevice(index));
}

void* device_alloc(size_t nbytes) {
    if (!available()) throw std::runtime_error("CUDA device requested, but no CUDA device is visible");
    size_t size = round_size(nbytes);
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stats.bytes_in_use += size;
    if (p.stats.bytes_in_use > p.stats.peak_bytes_in_use) p.stats.peak_bytes_in_use = p.stats.bytes_in_use;
    auto it = p.free_blocks.find(size);
    if (it != p.free_blocks.end() && !it->second.empty()) {
        void* ptr = it->second.back();
        it->second.pop_back();
        p.stats.bytes_cached -= size;
        return ptr;
    }
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err != cudaSuccess) {  // out of memory: return the cache to the driver, retry once
        cudaGetLastError();
        p.release_cache_locked();
        err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess) {
        p.stats.bytes_in_use -= size;
        VQ_CUDA_CHECK(err);
    }
    ++p.stats.cuda_malloc_calls;
    return ptr;
}

void device_free(void* ptr, size_t nbytes) {
    if (!ptr) return;
    size_t size = round_size(nbytes);
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stats.bytes_in_use -= size;
    p.stats.bytes_cached += size;
    p.free_blocks[size].push_back(ptr);
}

PoolStats pool_stats() {
    std::lock_guard<std::mutex> lock(pool().mutex);
    return pool().stats;
}

// Asynchronous on the default stream: from pageable memory CUDA stages the
// bytes before returning, so the host buffer may go at once, and the device
// is not drained as a plain cudaMemcpy would.
void copy_host_to_device(void* dst, const void* src, size_t nbytes) {
    VQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, 0));
}
void copy_device_to_host(void* dst, const void* src, size_t nbytes) {
    VQ_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
    check_device_errors();
}
void copy_device_to_device(void* dst, const void* src, size_t nbytes) {
    VQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, 0));
}
void synchronize() {
    VQ_CUDA_CHECK(cudaDeviceSynchronize());
    check_device_errors();
}

}  // namespace vq::cuda
