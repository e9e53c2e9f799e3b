// libFuzzer harness for the IDX reader: arbitrary bytes, as a plain file and
// as the content of a gzip stream, must give an IdxArray or a clean exception.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        vq::data::IdxArray a = vq::data::parse_idx(bytes, "fuzz");
        size_t n = 1;
        for (int64_t d : a.dims) n *= size_t(d);
        if (n != a.bytes.size()) __builtin_trap();  // the reader's own promise
    } catch (const std::exception&) {
    }
    // the file path: plain or gzip, through zlib
    static const std::string path = "/tmp/vq_fuzz_idx_" + std::to_string(getpid());
    if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
        try {
            vq::data::read_idx(path);
        } catch (const std::exception&) {
        }
    }
    return 0;
}
