#include "tensor/storage.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

#include "cuda/backend.hpp"

namespace vq {

namespace {

// Blocks are rounded up so that near-equal sizes share a free list, and
// 64-byte aligned for vector loads.
size_t round_size(size_t n) {
    if (n < 64) return 64;
    if (n < (1u << 20)) return (n + 511) & ~size_t(511);
    return (n + 65535) & ~size_t(65535);
}

class CpuCachingAllocator {
public:
    void* allocate(size_t nbytes) {
        size_t size = round_size(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use += size;
        if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
        auto it = free_.find(size);
        if (it != free_.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            stats_.bytes_cached -= size;
            return p;
        }
        void* p = std::aligned_alloc(64, size);
        if (!p) {
            release_locked();  // give the cache back to the system and retry once
            p = std::aligned_alloc(64, size);
            if (!p) throw std::bad_alloc();
        }
        return p;
    }
    void deallocate(void* p, size_t nbytes) {
        size_t size = round_size(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use -= size;
        stats_.bytes_cached += size;
        free_[size].push_back(p);
    }
    CpuAllocatorStats stats() {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        release_locked();
    }

private:
    void release_locked() {
        for (auto& [size, blocks] : free_)
            for (void* p : blocks) std::free(p);
        free_.clear();
        stats_.bytes_cached = 0;
    }
    std::mutex mutex_;
    std::map<size_t, std::vector<void*>> free_;
    CpuAllocatorStats stats_;
};

CpuCachingAllocator& cpu_allocator() {
    // Leaked on purpose: tensors held by static objects may die after main().
    static auto* allocator = new CpuCachingAllocator();
    return *allocator;
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
    void* p = device.is_cuda() ? cuda::device_alloc(nbytes) : cpu_allocator().allocate(nbytes);
    return std::shared_ptr<Storage>(new Storage(p, nbytes, device));
}

Storage::~Storage() {
    if (device_.is_cuda())
        cuda::device_free(data_, nbytes_);
    else
        cpu_allocator().deallocate(data_, nbytes_);
}

CpuAllocatorStats cpu_allocator_stats() { return cpu_allocator().stats(); }
void cpu_allocator_release_cache() { cpu_allocator().release(); }

}  // namespace vq
