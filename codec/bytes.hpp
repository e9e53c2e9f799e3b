// Little-endian integers in the codecs' file headers, and their timer: shared
// by the .vqz and bits-back formats.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vq::codec {

// Appends the low `n` bytes of v, least significant first.
inline void put_le(std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}
// Reads `n` bytes at `at` (the caller has checked the length).
inline uint64_t get_le(const std::string& s, size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(uint8_t(s[at + size_t(i)])) << (8 * i);
    return v;
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace vq::codec
