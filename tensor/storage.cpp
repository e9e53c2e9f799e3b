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

// Blocks from this size up go straight back to the system allocator: glibc
// serves them well (measured: the same step time), while caching them held
// about 60 MB more than the live peak while training the VQ-VAE.
constexpr size_t kLargestCached = size_t(1) << 20;

class CpuCachingAllocator {
public:
    void* allocate(size_t nbytes) {
        size_t size = round_size(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use += size;
        if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
        // the smallest cached block that fits, if it wastes at most a quarter:
        // exact-size reuse alone let the cache grow far past the live peak
        // (each phase of a step frees blocks the next phase cannot use)
        // (each phase of a step frees blocks the next phase cannot use). A
        // block goes back under the size it last served, never above its own.
        auto it = free_.lower_bound(size);  // lists are never left empty
        if (it != free_.end() && it->first <= size + size / 4) {
            void* p = it->second.back();
            it->second.pop_back();
            stats_.bytes_cached -= it->first;
            if (it->second.empty()) free_.erase(it);
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
        if (size >= kLargestCached) {
            std::free(p);
            return;
        }
        stats_.bytes_cached += size;
        free_[size].push_back(p);  // size <= the block's own size
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
