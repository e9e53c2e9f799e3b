#include "data/png.hpp"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace vq::data {

namespace {

// Writes a grayscale PNG of `bit_depth` whose rows are packed bytes of
// `stride` each, through a temporary file renamed into place.
void write_gray_png(const std::string& path, int64_t width, int64_t height, int bit_depth,
                    const std::vector<uint8_t>& rows, size_t stride) {
    std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error(path + ": cannot write");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        std::fclose(f);
        std::remove(tmp.c_str());
        throw std::runtime_error(path + ": libpng failed while writing");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bit_depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (int64_t y = 0; y < height; ++y) png_write_row(png, const_cast<uint8_t*>(&rows[size_t(y) * stride]));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": rename failed");
}

}  // namespace

void write_png_grid(const std::string& path, const Tensor& images_in, int64_t columns, int64_t scale) {
    if (images_in.dim() != 4 || images_in.size(1) != 1)
        throw std::invalid_argument("write_png_grid: expected [N, 1, H, W] images, got " + images_in.shape_str());
    if (scale < 1 || scale > 64) throw std::invalid_argument("write_png_grid: scale must be in 1..64, got " + std::to_string(scale));
    Tensor images = images_in.to(Device::cpu()).to(DType::F32).contiguous();
    int64_t n = images.size(0), h = images.size(2), w = images.size(3), gap = 2;
    columns = std::max<int64_t>(1, std::min(columns, n));
    int64_t rows = (n + columns - 1) / columns;
    int64_t W = columns * (w + gap) + gap, H = rows * (h + gap) + gap;
    std::vector<uint8_t> canvas(size_t(W * H), 64);  // dark grey gaps
    const float* p = images.data<float>();
    for (int64_t k = 0; k < n; ++k) {
        int64_t r = k / columns, c = k % columns;
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                float v = std::min(1.0f, std::max(0.0f, p[(k * h + y) * w + x]));
                canvas[size_t((gap + r * (h + gap) + y) * W + gap + c * (w + gap) + x)] = uint8_t(v * 255.0f + 0.5f);
            }
    }
    if (scale > 1) {  // nearest neighbour: each pixel becomes a scale x scale block
        std::vector<uint8_t> big(size_t(W * scale * H * scale));
        for (int64_t y = 0; y < H * scale; ++y)
            for (int64_t x = 0; x < W * scale; ++x) big[size_t(y * W * scale + x)] = canvas[size_t((y / scale) * W + x / scale)];
        canvas.swap(big);
        W *= scale;
        H *= scale;
    }
    write_gray_png(path, W, H, 8, canvas, size_t(W));
}

void write_png_bits(const std::string& path, const Tensor& bits_in) {
    Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    if (bits.dim() == 4 && bits.size(0) == 1 && bits.size(1) == 1) bits = bits.reshape({bits.size(2), bits.size(3)});
    if (bits.dim() != 2) throw std::invalid_argument("write_png_bits: expected one image [H, W], got " + bits.shape_str());
    const int64_t h = bits.size(0), w = bits.size(1);
    const size_t stride = size_t((w + 7) / 8);
    std::vector<uint8_t> packed(stride * size_t(h), 0);
    const float* p = bits.data<float>();
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            if (p[y * w + x] >= 0.5f) packed[size_t(y) * stride + size_t(x / 8)] |= uint8_t(0x80 >> (x % 8));  // 1 = white
    write_gray_png(path, w, h, 1, packed, stride);
}

Tensor read_png_gray(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error(path + ": cannot open");
    unsigned char sig[8];
    if (std::fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
        std::fclose(f);
        throw std::runtime_error(path + ": not a PNG file");
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        std::fclose(f);
        throw std::runtime_error(path + ": corrupt PNG");
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_set_expand(png);  // 1/2/4-bit gray to 8-bit
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_rgb_to_gray(png, 1, -1, -1);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    std::vector<uint8_t> rows(size_t(w) * h);
    for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, &rows[size_t(y) * w], nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(f);
    Tensor out = Tensor::empty({1, 1, int64_t(h), int64_t(w)});
    float* p = out.data<float>();
    for (size_t i = 0; i < rows.size(); ++i) p[i] = float(rows[i]) / 255.0f;
    return out;
}

}  // namespace vq::data
