// What the .vqz and bits-back codecs share: little-endian integers and
// varints, the seal that ends both headers, the checks every file passes
// before its fields are read, the one-thread guard, and the timer.
//
// The seal is the last 12 bytes of a header: the length of the payload that
// follows the header (4 bytes), then a 64-bit FNV-1a checksum of every other
// byte of the file, header and payload (8). FNV-1a's step is a bijection of
// its state for each byte, so any single damaged byte changes the checksum:
// a flipped kind, count or model-hash byte is caught before it can be
// believed. The length turns a truncated file into its own message.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "io/hash.hpp"
#include "tensor/parallel.hpp"

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

// LEB128: 7 bits a byte, low first; small counts take one byte.
inline void put_varint(std::string& s, uint64_t v) {
    for (; v >= 0x80; v >>= 7) s.push_back(char((v & 0x7f) | 0x80));
    s.push_back(char(v));
}
// Reads a varint at `at` and moves past it; false when the bytes end first
// or it is longer than 64 bits can hold.
inline bool get_varint(const std::string& s, size_t& at, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && at < s.size(); shift += 7) {
        const uint8_t b = uint8_t(s[at++]);
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

constexpr size_t kSealBytes = 12;

// The checksum of a file whose header is `header_bytes` long: every byte but
// the checksum field itself (the header's last 8).
inline uint64_t file_checksum(const std::string& file, size_t header_bytes) {
    const uint64_t h = io::fnv1a64(file.data(), header_bytes - 8);
    return io::fnv1a64(file.data() + header_bytes, file.size() - header_bytes, h);
}

// Writes the seal of `file`: a header of `header_bytes` (its seal bytes
// present but not yet filled in), then the payload.
inline void seal_file(std::string& file, size_t header_bytes) {
    const uint64_t payload = file.size() - header_bytes;
    if (payload > 0xffffffffull)
        throw std::runtime_error(fmt::format("compress: {} bytes of coded data; the format holds at most 4 GiB per file "
                                             "(compress fewer images per file)", payload));
    std::string len;
    put_le(len, payload, 4);
    file.replace(header_bytes - kSealBytes, 4, len);
    std::string sum;
    put_le(sum, file_checksum(file, header_bytes), 8);
    file.replace(header_bytes - 8, 8, sum);
}

struct FileFormat {
    const char* magic;  // 3 bytes
    const char* name;   // in messages: ".vqz", "bits-back"
    uint8_t version;
    size_t header_bytes;
};

// What every file passes before its fields are read: the magic, the
// version, the length and the checksum, in that order, so that the first
// thing wrong is what the message names. Errors name the file (`name`).
inline void check_sealed_file(const std::string& file, const std::string& name, const FileFormat& f) {
    if (file.size() < 4 || file.compare(0, 3, f.magic) != 0)
        throw std::runtime_error(fmt::format("{}: not a {} file (bad magic or shorter than its {}-byte header)", name, f.name,
                                             f.header_bytes));
    // before the size: an older version has another header size
    const int version = uint8_t(file[3]);
    if (version != f.version)
        throw std::runtime_error(fmt::format("{}: written by {} format version {}; this build reads version {} ({})", name,
                                             f.name, version, int(f.version),
                                             version < f.version ? "compress the images again with this build"
                                                                 : "decompress it with the newer build that wrote it"));
    if (file.size() < f.header_bytes)
        throw std::runtime_error(fmt::format("{}: truncated: {} bytes, shorter than its {}-byte header", name, file.size(),
                                             f.header_bytes));
    const uint64_t promised = get_le(file, f.header_bytes - kSealBytes, 4), held = file.size() - f.header_bytes;
    if (promised != held)
        throw std::runtime_error(fmt::format("{}: truncated or damaged: the header promises {} bytes of data after it, the "
                                             "file holds {}", name, promised, held));
    const uint64_t stored = get_le(file, f.header_bytes - 8, 8), computed = file_checksum(file, f.header_bytes);
    if (stored != computed)
        throw std::runtime_error(fmt::format("{}: damaged: its bytes do not match the file's checksum (stored {:016x}, "
                                             "computed {:016x})", name, stored, computed));
}

// Both codecs need the decoder to compute the encoder's floats bit for bit,
// but the CPU kernels' sums depend on the thread count (tensor/parallel.hpp
// splits work by it, and a BLAS call's sums by its matrix sizes), so a file
// compressed on 2 threads failed to decompress on 1. The codecs therefore run
// their networks on one thread whatever VQ_NUM_THREADS says, and give the
// count back after.
class OneThread {
public:
    OneThread() : saved_(num_threads()) { set_num_threads(1); }
    ~OneThread() { set_num_threads(saved_); }
    OneThread(const OneThread&) = delete;
    OneThread& operator=(const OneThread&) = delete;

private:
    int saved_;
};

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace vq::codec
