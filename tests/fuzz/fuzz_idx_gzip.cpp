// libFuzzer harness for the streaming gzip IDX reader. Each input is read
// twice through read_idx:
//  - gzipped into a file: the result must match parse_idx on the same bytes
//    (the same arrays, or the same message), except that a gzip file too
//    small for its header's claim may be refused early, in its own words;
//  - as the file itself: truncated and garbage gzip streams, and (when the
//    bytes do not start with gzip's magic) a plain IDX file, read
//    transparently, which must match parse_idx exactly.
// Neither may crash, or allocate more than the file can hold (libFuzzer's
// -malloc_limit_mb flags a large claim that the reader believed).
#include <unistd.h>

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "data/idx.hpp"

namespace {

struct Outcome {
    bool ok = false;
    std::vector<int64_t> dims;
    std::vector<uint8_t> bytes;
    std::string error;  // with the name replaced by NAME
};

template <typename Fn>
Outcome outcome(const std::string& name, Fn&& fn) {
    Outcome o;
    try {
        vq::data::IdxArray a = fn();
        o.ok = true;
        o.dims = a.dims;
        o.bytes = std::move(a.bytes);
    } catch (const std::exception& e) {
        o.error = e.what();
        if (o.error.rfind(name + ": ", 0) != 0) __builtin_trap();  // every error names the file
        o.error = "NAME" + o.error.substr(name.size());
    }
    return o;
}

bool same(const Outcome& a, const Outcome& b) {
    return a.ok == b.ok && a.dims == b.dims && a.bytes == b.bytes && a.error == b.error;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const Outcome expected = outcome("NAME", [&] { return vq::data::parse_idx(bytes, "NAME"); });
    if (expected.ok) {
        size_t n = 1;
        for (int64_t d : expected.dims) n *= size_t(d);
        if (n != expected.bytes.size()) __builtin_trap();
    }

    static const std::string packed = "/tmp/vq_fuzz_idx_gzip_" + std::to_string(getpid()) + ".gz";
    if (gzFile f = gzopen(packed.c_str(), "wb1")) {
        if (size) gzwrite(f, bytes.data(), unsigned(size));
        gzclose(f);
        const Outcome got = outcome(packed, [&] { return vq::data::read_idx(packed); });
        const bool refused_early = !got.ok && got.error.find("-byte gzip file inflates to at most") != std::string::npos &&
                                   ends_with(expected.error, "(truncated)");
        if (!same(got, expected) && !refused_early) __builtin_trap();
    }

    static const std::string raw = "/tmp/vq_fuzz_idx_raw_" + std::to_string(getpid()) + ".gz";
    if (FILE* f = std::fopen(raw.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
        const Outcome got = outcome(raw, [&] { return vq::data::read_idx(raw); });
        const bool gzip_magic = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
        if (!gzip_magic && !same(got, expected)) __builtin_trap();
    }
    return 0;
}
