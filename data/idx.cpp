#include "data/idx.hpp"

#include "io/files.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace vq::data {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error(name + ": " + what);
}

// The largest data section read_idx accepts (Fashion-MNIST's is 47 MB).
constexpr uint64_t kMaxDataBytes = uint64_t(1) << 34;

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// The bytes of an IDX file, from memory (parse_idx) or from a plain or gzip
// file (read_idx), so that both go through one parser and give the same
// messages.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Up to n bytes into dst; fewer only at the end of the data.
    virtual size_t read(uint8_t* dst, size_t n) = 0;
    // At most how many bytes are still to come, and how to say so in an error:
    // exact for memory and plain files; for gzip, what deflate could expand
    // the compressed file to.
    virtual uint64_t most_left() const = 0;
    virtual std::string most_left_text() const = 0;
};

class MemorySource final : public ByteSource {
public:
    explicit MemorySource(const std::string& b) : b_(b) {}
    size_t read(uint8_t* dst, size_t n) override {
        n = std::min(n, b_.size() - at_);
        std::memcpy(dst, b_.data() + at_, n);
        at_ += n;
        return n;
    }
    uint64_t most_left() const override { return b_.size() - at_; }
    std::string most_left_text() const override { return "file has " + std::to_string(most_left()); }

private:
    const std::string& b_;
    size_t at_ = 0;
};

// zlib reads gzip and, transparently, uncompressed files. A gzip stream that
// ends early or fails its checksum is reported, not silently returned short.
class GzipFileSource final : public ByteSource {
public:
    explicit GzipFileSource(const std::string& path) : path_(path) {
        if (!std::filesystem::exists(path)) fail(path, "file not found");
        if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected an IDX file");
        file_bytes_ = io::file_size(path);
        f_ = gzopen(path.c_str(), "rb");
        if (!f_) fail(path, "cannot open");
        gzbuffer(f_, 1 << 16);
    }
    ~GzipFileSource() override { gzclose(f_); }
    GzipFileSource(const GzipFileSource&) = delete;
    GzipFileSource& operator=(const GzipFileSource&) = delete;

    size_t read(uint8_t* dst, size_t n) override {
        size_t done = 0;
        while (done < n) {
            const unsigned want = unsigned(std::min<size_t>(n - done, 1 << 20));
            const int got = gzread(f_, dst + done, want);
            if (got < 0) corrupt();
            done += size_t(got);
            if (unsigned(got) < want) {  // the end, or an error gzread reports only through gzerror
                int code = Z_OK;
                gzerror(f_, &code);
                if (code != Z_OK && code != Z_STREAM_END) corrupt();
                break;
            }
        }
        read_ += done;
        return done;
    }
    // Deflate's best case is a 258-byte match coded in 2 bits, so a gzip
    // file of F bytes inflates to at most 1032 * F bytes (the slack covers
    // rounding on tiny files). A plain file holds exactly what is left.
    uint64_t most_left() const override {
        if (gzdirect(f_)) return file_bytes_ - std::min(file_bytes_, read_);
        return file_bytes_ * kDeflateMaxRatio + kSlackBytes;
    }
    std::string most_left_text() const override {
        if (gzdirect(f_)) return "file has " + std::to_string(most_left());
        return "a " + std::to_string(file_bytes_) + "-byte gzip file inflates to at most " + std::to_string(most_left());
    }

private:
    static constexpr uint64_t kDeflateMaxRatio = 1032, kSlackBytes = 1024;

    [[noreturn]] void corrupt() {
        int code = Z_OK;
        std::string msg = gzerror(f_, &code);
        if (msg.rfind(path_ + ": ", 0) == 0) msg.erase(0, path_.size() + 2);  // zlib names the file too
        fail(path_, "corrupt gzip data (" + msg + ")");
    }

    std::string path_;
    gzFile f_ = nullptr;
    uint64_t file_bytes_ = 0, read_ = 0;
};

std::string hex32(uint32_t v) {
    char s[16];
    std::snprintf(s, sizeof s, "%08X", v);
    return s;
}

// Header first, then exactly the data it implies, then one more byte to
// prove there is none: memory grows with the data that really comes, so a
// small file whose header (or whose inflated size) lies costs little.
IdxArray parse(ByteSource& src, const std::string& name) {
    uint8_t head[4 + 4 * 4];
    const size_t got = src.read(head, 4);
    if (got == 0) fail(name, "file is empty, expected an IDX header");
    if (got < 4) fail(name, "file is " + std::to_string(got) + " bytes, too short for an IDX magic number");
    const uint32_t magic = be32(head);
    if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08)
        fail(name, "bad magic number 0x" + hex32(magic) + ", expected 0x00000801 or 0x00000803 (unsigned byte IDX)");
    const size_t ndims = magic & 0xff;
    if (ndims < 1 || ndims > 4) fail(name, "IDX file declares " + std::to_string(ndims) + " dims, expected 1 to 4");
    const size_t header = 4 + 4 * ndims;
    const size_t have = 4 + src.read(head + 4, 4 * ndims);
    if (have < header)
        fail(name, "truncated header: " + std::to_string(ndims) + " dims need " + std::to_string(header) + " bytes, file has " +
                       std::to_string(have));
    IdxArray out;
    uint64_t count = 1;
    for (size_t d = 0; d < ndims; ++d) {
        const uint32_t s = be32(head + 4 + 4 * d);
        if (s == 0) fail(name, "dim " + std::to_string(d) + " is 0");
        count *= s;
        if (count > kMaxDataBytes) fail(name, "dims describe more than 16 GiB of data");
        out.dims.push_back(int64_t(s));
    }
    const std::string need = "dims " + shape_str(out.dims) + " need " + std::to_string(count) + " data bytes, ";
    // Refused before any allocation when the file cannot possibly hold it.
    if (count > src.most_left()) fail(name, need + src.most_left_text() + " (truncated)");
    // Reserved (address space only: pages are touched as data arrives) and
    // filled in chunks.
    out.bytes.reserve(size_t(count));
    while (out.bytes.size() < count) {
        const size_t at = out.bytes.size(), want = size_t(std::min<uint64_t>(count - at, 1 << 20));
        out.bytes.resize(at + want);
        const size_t n = src.read(out.bytes.data() + at, want);
        if (n < want) fail(name, need + "file has " + std::to_string(at + n) + " (truncated)");
    }
    uint8_t extra;
    if (src.read(&extra, 1) != 0) fail(name, need + "file has more (trailing bytes)");
    return out;
}

}  // namespace

IdxArray parse_idx(const std::string& bytes, const std::string& name) {
    MemorySource src(bytes);
    return parse(src, name);
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
    io::write_file_atomic(path, out);
}

IdxArray read_idx(const std::string& path) {
    GzipFileSource src(path);
    return parse(src, path);
}

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
