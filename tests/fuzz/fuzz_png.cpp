// libFuzzer harness for the PNG reader: arbitrary bytes, as a file, must give
// a gray image within the reader's bounds or a clean exception; never a
// crash, a leak, or an allocation that libFuzzer's -malloc_limit_mb and
// -rss_limit_mb (2048 MB by default) would flag.
//
// Mutated bytes almost always break a chunk's CRC, which libpng checks first,
// so each input is read twice: as it came, and with every chunk's CRC
// recomputed, which lets the mutations reach the header checks, the inflate
// and the Adam7 and bit-depth transforms behind them.
#include <unistd.h>

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "data/png.hpp"

namespace {

uint32_t be32(const std::string& b, size_t at) {
    return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) | (uint32_t(uint8_t(b[at + 2])) << 8) |
           uint32_t(uint8_t(b[at + 3]));
}

// The chunks after the 8-byte signature, each CRC set to match its type and
// data, as far as whole chunks go.
std::string with_crcs_fixed(std::string b) {
    for (size_t at = 8; at + 12 <= b.size();) {
        const uint64_t len = be32(b, at);
        if (len > b.size() - at - 12) break;
        const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data() + at + 4), uInt(len + 4)));
        for (int i = 0; i < 4; ++i) b[at + 8 + len + size_t(i)] = char(crc >> (24 - 8 * i));
        at += 12 + len;
    }
    return b;
}

void read_as_file(const std::string& bytes) {
    static const std::string path = "/tmp/vq_fuzz_png_" + std::to_string(getpid()) + ".png";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return;
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    try {
        vq::Tensor t = vq::data::read_png_gray(path);
        if (t.dim() != 4 || t.size(0) != 1 || t.size(1) != 1 || t.size(2) < 1 || t.size(3) < 1 || t.size(2) > 4096 ||
            t.size(3) > 4096)
            __builtin_trap();
        const float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i)
            if (!(p[i] >= 0.0f && p[i] <= 1.0f)) __builtin_trap();
    } catch (const std::exception& e) {
        if (std::string(e.what()).rfind(path + ": ", 0) != 0) __builtin_trap();  // every error names the file
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    read_as_file(bytes);
    const std::string fixed = with_crcs_fixed(bytes);
    if (fixed != bytes) read_as_file(fixed);
    return 0;
}
