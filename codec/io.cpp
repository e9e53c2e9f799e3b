#include "codec/io.hpp"

#include <filesystem>
#include <fstream>

#include "data/binarize.hpp"
#include "data/idx.hpp"
#include "data/png.hpp"
#include "tensor/ops.hpp"

namespace vq::codec {

namespace {

const char* kAccepted =
    "expected an IDX directory holding t10k-images-idx3-ubyte[.gz], an IDX images file (plain or gzip) or a 1-bit PNG";

Tensor binarize_idx(const std::string& path, const std::vector<uint8_t>& pixels, int64_t count, int64_t h, int64_t w,
                    int64_t limit) {
    if (h != 28 || w != 28)
        throw std::runtime_error(path + ": images are " + std::to_string(h) + "x" + std::to_string(w) + ", the models take 28x28");
    int64_t n = limit > 0 ? std::min(limit, count) : count;
    if (n < 1) throw std::runtime_error(path + ": holds no images");
    return data::binarize_deterministic(pixels.data(), 0, n, 28, 28, 0);
}

// The first bytes of a file, to tell its kind
std::string head_of(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot be read");
    std::string s(n, '\0');
    in.read(s.data(), std::streamsize(n));
    s.resize(size_t(in.gcount()));
    return s;
}

}  // namespace

uint8_t kind_flags(InputKind kind) { return uint8_t(uint8_t(kind) << 1); }

InputKind kind_of_flags(uint8_t flags, const std::string& name) {
    const uint8_t k = (flags >> 1) & 3;
    if (k > 2) throw std::runtime_error(name + ": corrupt header (unknown input kind " + std::to_string(k) + ")");
    return InputKind(k);
}

const char* kind_name(InputKind kind) {
    switch (kind) {
        case InputKind::IdxDirectory: return "an IDX directory";
        case InputKind::Png: return "a PNG";
        case InputKind::IdxFile: return "an IDX file";
    }
    return "an unknown kind";
}

std::string kind_count_error(InputKind kind, int64_t count) {
    if (kind == InputKind::Png && count != 1) return "a PNG holds exactly 1 image, not " + std::to_string(count);
    if (count < 1) return std::string(kind_name(kind)) + " holds at least 1 image, not " + std::to_string(count);
    return "";
}

BinaryImages read_binary_images(const std::string& path, int64_t limit) {
    namespace fs = std::filesystem;
    if (limit < 0) throw std::invalid_argument("--limit must not be negative, got " + std::to_string(limit));
    BinaryImages out;
    if (fs::is_directory(path)) {
        data::Dataset test = data::load_split(path, "t10k");
        out.bits = binarize_idx(path, test.pixels, test.count, test.height, test.width, limit);
        return out;
    }
    if (!fs::exists(path)) throw std::runtime_error(path + ": not found (" + kAccepted + ")");
    const std::string head = head_of(path, 8);
    const bool png = head.size() >= 8 && head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
    const bool gzip = head.size() >= 2 && uint8_t(head[0]) == 0x1f && uint8_t(head[1]) == 0x8b;
    const bool idx = head.size() >= 4 && head[0] == 0 && head[1] == 0 && uint8_t(head[2]) == 0x08;
    if (gzip || idx) {
        data::IdxArray a = data::read_idx(path);
        if (a.dims.size() != 3) throw std::runtime_error(path + ": an IDX file of " + std::to_string(a.dims.size()) +
                                                         " dims; images are [N, H, W]");
        out.bits = binarize_idx(path, a.bytes, a.dims[0], a.dims[1], a.dims[2], limit);
        out.kind = InputKind::IdxFile;
        return out;
    }
    if (!png) throw std::runtime_error(path + ": not a recognised input (" + kAccepted + ")");
    Tensor gray = data::read_png_gray(path);
    if (gray.size(2) != 28 || gray.size(3) != 28)
        throw std::runtime_error(path + ": image is " + std::to_string(gray.size(2)) + "x" + std::to_string(gray.size(3)) +
                                 ", the models take 28x28");
    out.bits = ge(gray, Tensor::scalar(0.5));
    out.kind = InputKind::Png;
    return out;
}

void write_binary_images(const std::string& path, const Tensor& bits, InputKind kind) {
    if (std::string e = kind_count_error(kind, bits.size(0)); !e.empty()) throw std::invalid_argument(path + ": " + e);
    if (kind == InputKind::Png) {
        data::write_png_bits(path, bits.select(0, 0).select(0, 0));
        return;
    }
    std::vector<float> v = bits.to_floats();
    std::vector<uint8_t> px(v.size());
    for (size_t i = 0; i < v.size(); ++i) px[i] = v[i] >= 0.5f ? 255 : 0;
    std::string file = path;
    if (kind == InputKind::IdxDirectory) {
        std::error_code ec;
        std::filesystem::create_directories(path, ec);
        if (!std::filesystem::is_directory(path)) throw std::runtime_error(path + ": cannot create the output directory");
        file = path + "/t10k-images-idx3-ubyte";
    }
    data::write_idx_images(file, px, bits.size(0), bits.size(2), bits.size(3));
}

}  // namespace vq::codec
