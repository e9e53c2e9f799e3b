// Storage: one allocation on one device, freed through the device's allocator.
//
// CPU memory comes from a caching allocator: training allocates the same sizes
// every step, and reusing freed blocks avoids malloc cost and fresh page
// faults. Large blocks are mapped pages, cached only up to a bound so that the
// process holds little more than its live peak (see storage.cpp). CUDA memory
// comes from cuda/'s pool.
#pragma once

#include <cstddef>
#include <memory>

#include "tensor/dtype.hpp"

namespace vq {

class Storage {
public:
    static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }

private:
    Storage(void* data, size_t nbytes, Device device) : data_(data), nbytes_(nbytes), device_(device) {}
    void* data_;
    size_t nbytes_;
    Device device_;
};

// Statistics of the CPU caching allocator, for bench and tests.
struct CpuAllocatorStats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;
    size_t peak_bytes_in_use = 0;
};
CpuAllocatorStats cpu_allocator_stats();
// Blocks of 1 MiB and up are cached while live + cached bytes stay within the
// live peak plus this much (storage.cpp says why).
inline constexpr size_t kCpuLargeCacheSlack = size_t(32) << 20;
void cpu_allocator_release_cache();

}  // namespace vq
