#include "codec/io.hpp"

#include <filesystem>

#include "data/binarize.hpp"
#include "data/idx.hpp"
#include "data/png.hpp"
#include "tensor/ops.hpp"

namespace vq::codec {

BinaryImages read_binary_images(const std::string& path, int64_t limit) {
    namespace fs = std::filesystem;
    if (limit < 0) throw std::invalid_argument("--limit must not be negative, got " + std::to_string(limit));
    BinaryImages out;
    if (fs::is_directory(path)) {
        data::Dataset test = data::load_split(path, "t10k");
        int64_t n = limit > 0 ? std::min(limit, test.count) : test.count;
        if (test.height != 28 || test.width != 28)
            throw std::runtime_error(path + ": images are " + std::to_string(test.height) + "x" + std::to_string(test.width) +
                                     ", the models take 28x28");
        out.bits = data::binarize_deterministic(test.pixels.data(), 0, n, 28, 28, 0);
        return out;
    }
    if (!fs::exists(path)) throw std::runtime_error(path + ": not found (expected an IDX directory or a .png file)");
    Tensor gray = data::read_png_gray(path);
    if (gray.size(2) != 28 || gray.size(3) != 28)
        throw std::runtime_error(path + ": image is " + std::to_string(gray.size(2)) + "x" + std::to_string(gray.size(3)) +
                                 ", the models take 28x28");
    out.bits = ge(gray, Tensor::scalar(0.5));
    out.from_png = true;
    return out;
}

void write_binary_images(const std::string& path, const Tensor& bits, bool from_png) {
    if (from_png) {
        data::write_png_bits(path, bits.select(0, 0));
        return;
    }
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (!std::filesystem::is_directory(path)) throw std::runtime_error(path + ": cannot create the output directory");
    std::vector<float> v = bits.to_floats();
    std::vector<uint8_t> px(v.size());
    for (size_t i = 0; i < v.size(); ++i) px[i] = v[i] >= 0.5f ? 255 : 0;
    data::write_idx_images(path + "/t10k-images-idx3-ubyte", px, bits.size(0), bits.size(2), bits.size(3));
}

}  // namespace vq::codec
