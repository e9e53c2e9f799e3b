// FNV-1a, 64-bit: the project's one hash of bytes. The codecs name the model
// files a file was made with and seal every byte of it; training checks that
// all ranks hold the same bits. It catches damage and mix-ups, not forgery.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vq::io {

inline constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ull;

// Continues the hash h over n bytes; chain calls to hash several buffers as one.
inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1aOffset) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

}  // namespace vq::io
