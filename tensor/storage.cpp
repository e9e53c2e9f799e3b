#include "tensor/storage.hpp"

#include <sys/mman.h>

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

// Blocks from this size up are pages of their own (mmap), cached while the
// memory held (live + cached) stays within the live peak plus kLargeSlack.
// Why neither extreme: glibc's heap keeps freed large blocks far beyond the
// live peak, and unmapping every freed block makes each reallocation fault in
// fresh zeroed pages. The slack covers the blocks that best-fit reuse cannot
// place. docs/performance.md has the measurements behind the 32 MiB.
constexpr size_t kLargeBlock = size_t(1) << 20;
constexpr size_t kLargeSlack = kCpuLargeCacheSlack;

class CpuCachingAllocator {
public:
    void* allocate(size_t nbytes) {
        size_t size = round_size(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use += size;
        if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
        // the smallest cached block that fits, if it wastes at most a quarter:
        // exact-size reuse alone let the cache grow far past the live peak
        // (each phase of a step frees blocks the next phase cannot use). A
        // block goes back under the size it last served, never above its own.
        auto it = free_.lower_bound(size);  // lists are never left empty
        if (it != free_.end() && it->first <= size + size / 4) {
            void* p = it->second.back();
            it->second.pop_back();
            stats_.bytes_cached -= it->first;
            if (it->first >= kLargeBlock) large_cached_ -= it->first;
            if (it->second.empty()) free_.erase(it);
            return p;
        }
        void* p = system_alloc(size);
        if (!p) {
            release_locked();  // give the cache back to the system and retry once
            p = system_alloc(size);
            if (!p) throw std::bad_alloc();
        }
        return p;
    }
    void deallocate(void* p, size_t nbytes) {
        size_t size = round_size(nbytes);
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use -= size;
        stats_.bytes_cached += size;
        free_[size].push_back(p);  // size <= the block's own size
        if (size >= kLargeBlock) {
            large_cached_ += size;
            // holding too much: unmap the largest cached blocks until back within bounds
            while (large_cached_ > 0 && stats_.bytes_in_use + stats_.bytes_cached > stats_.peak_bytes_in_use + kLargeSlack) {
                auto it = std::prev(free_.end());
                size_t s = it->first;
                system_free(it->second.back());
                it->second.pop_back();
                if (it->second.empty()) free_.erase(it);
                stats_.bytes_cached -= s;
                large_cached_ -= s;
            }
        }
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
    // A block is cached under the size it last served, which may be below its
    // mapped size (by a quarter at most); munmap with that size would leave
    // the block's tail mapped, so large blocks remember their mapped size.
    void* system_alloc(size_t size) {
        if (size < kLargeBlock) return std::aligned_alloc(64, size);
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return nullptr;
        mapped_[p] = size;
        return p;
    }
    void system_free(void* p) {
        auto it = mapped_.find(p);
        if (it == mapped_.end()) {
            std::free(p);
            return;
        }
        munmap(p, it->second);
        mapped_.erase(it);
    }
    void release_locked() {
        for (auto& [size, blocks] : free_)
            for (void* p : blocks) system_free(p);
        free_.clear();
        stats_.bytes_cached = 0;
        large_cached_ = 0;
    }
    std::mutex mutex_;
    std::map<size_t, std::vector<void*>> free_;
    std::map<void*, size_t> mapped_;  // large blocks and their mapped sizes
    size_t large_cached_ = 0;
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
