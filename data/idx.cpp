#include "data/idx.hpp"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace vq::data {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error(name + ": " + what);
}

uint32_t be32(const std::string& b, size_t at) {
    return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) |
           (uint32_t(uint8_t(b[at + 2])) << 8) | uint32_t(uint8_t(b[at + 3]));
}

// zlib reads gzip and, transparently, uncompressed files. A gzip stream that
// ends early is reported, not silently returned short.
std::string read_maybe_gzip(const std::string& path) {
    if (!std::filesystem::exists(path)) fail(path, "file not found");
    if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected an IDX file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fail(path, "cannot open");
    std::string out;
    char buf[1 << 16];
    for (;;) {
        int n = gzread(f, buf, sizeof buf);
        if (n < 0) {
            int code = 0;
            std::string msg = gzerror(f, &code);
            gzclose(f);
            fail(path, "corrupt gzip data (" + msg + ")");
        }
        if (n == 0) break;
        out.append(buf, size_t(n));
    }
    int code = 0;
    std::string msg = gzerror(f, &code);
    bool direct = gzdirect(f);
    gzclose(f);
    if (code != Z_OK && code != Z_STREAM_END) fail(path, "corrupt gzip data (" + msg + ")");
    (void)direct;
    return out;
}

}  // namespace

IdxArray parse_idx(const std::string& b, const std::string& name) {
    if (b.empty()) fail(name, "file is empty, expected an IDX header");
    if (b.size() < 4) fail(name, "file is " + std::to_string(b.size()) + " bytes, too short for an IDX magic number");
    uint32_t magic = be32(b, 0);
    if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08)
        fail(name, "bad magic number 0x" + [&] {
            char s[16];
            std::snprintf(s, sizeof s, "%08X", magic);
            return std::string(s);
        }() + ", expected 0x00000801 or 0x00000803 (unsigned byte IDX)");
    size_t ndims = magic & 0xff;
    if (ndims < 1 || ndims > 4) fail(name, "IDX file declares " + std::to_string(ndims) + " dims, expected 1 to 4");
    if (b.size() < 4 + 4 * ndims) fail(name, "truncated header: " + std::to_string(ndims) + " dims need " +
                                                 std::to_string(4 + 4 * ndims) + " bytes, file has " + std::to_string(b.size()));
    IdxArray out;
    uint64_t count = 1;
    for (size_t d = 0; d < ndims; ++d) {
        uint32_t s = be32(b, 4 + 4 * d);
        if (s == 0) fail(name, "dim " + std::to_string(d) + " is 0");
        count *= s;
        if (count > (uint64_t(1) << 34)) fail(name, "dims describe more than 16 GiB of data");
        out.dims.push_back(int64_t(s));
    }
    size_t header = 4 + 4 * ndims;
    if (b.size() - header != count)
        fail(name, "dims " + shape_str(out.dims) + " need " + std::to_string(count) + " data bytes, file has " +
                       std::to_string(b.size() - header) + (b.size() - header < count ? " (truncated)" : " (trailing bytes)"));
    out.bytes.assign(b.begin() + std::ptrdiff_t(header), b.end());
    return out;
}

void write_idx_images(const std::string& path, const std::vector<uint8_t>& pixels, int64_t n, int64_t h, int64_t w) {
    if (int64_t(pixels.size()) != n * h * w) throw std::invalid_argument(path + ": pixel count does not match the dims");
    std::string out;
    auto be = [&](uint32_t v) {
        for (int i = 3; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
    };
    be(0x803);
    be(uint32_t(n));
    be(uint32_t(h));
    be(uint32_t(w));
    out.append(reinterpret_cast<const char*>(pixels.data()), pixels.size());
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f.write(out.data(), std::streamsize(out.size()))) fail(path, "cannot write");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "rename failed");
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_maybe_gzip(path), path); }

static std::string find_file(const std::string& dir, const std::string& stem) {
    for (const std::string& candidate : {dir + "/" + stem + ".gz", dir + "/" + stem})
        if (std::filesystem::exists(candidate)) return candidate;
    return "";
}

Dataset load_split(const std::string& dir, const std::string& split) {
    if (!std::filesystem::is_directory(dir))
        throw std::runtime_error(dir + ": data directory not found (install Debian's dataset-fashion-mnist, or pass --data DIR)");
    std::string images_path = find_file(dir, split + "-images-idx3-ubyte");
    if (images_path.empty())
        throw std::runtime_error(dir + ": no " + split + "-images-idx3-ubyte[.gz] in this directory");
    IdxArray images = read_idx(images_path);
    if (images.dims.size() != 3)
        throw std::runtime_error(images_path + ": expected 3 dims [N, H, W], got " + shape_str(images.dims));
    Dataset ds;
    ds.count = images.dims[0];
    ds.height = images.dims[1];
    ds.width = images.dims[2];
    ds.pixels = std::move(images.bytes);
    std::string labels_path = find_file(dir, split + "-labels-idx1-ubyte");
    if (!labels_path.empty()) {
        IdxArray labels = read_idx(labels_path);
        if (labels.dims.size() != 1 || labels.dims[0] != ds.count)
            throw std::runtime_error(labels_path + ": expected " + std::to_string(ds.count) + " labels, got dims " +
                                     shape_str(labels.dims));
        ds.labels = std::move(labels.bytes);
    }
    return ds;
}

}  // namespace vq::data
