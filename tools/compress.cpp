// compress: binary images -> .vqz, coded under the VQ-VAE + PixelCNN prior.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/io.hpp"
#include "codec/vqz.hpp"
#include "nn/safetensors.hpp"

int main(int argc, char** argv) {
    using namespace vq;
    CLI::App app{"Compress binarized images with the VQ-VAE + Gated PixelCNN prior (rANS)"};
    std::string vqvae, prior, in, out, device = "cpu";
    bool lossless = false, as_json = false;
    int64_t limit = 0;
    app.add_option("--vqvae", vqvae, "VQ-VAE model.safetensors")->required();
    app.add_option("--prior", prior, "prior model.safetensors")->required();
    app.add_option("--in", in, "IDX directory (its t10k images, deterministically binarized) or a 1-bit PNG")->required();
    app.add_option("--out", out, "output .vqz file")->required();
    app.add_flag("--lossless", lossless, "also code every pixel under the decoder's probability (exact round trip)");
    app.add_option("--limit", limit, "first N images of an IDX set (0: all)")->capture_default_str();
    app.add_option("--device", device, "cpu | cuda")->capture_default_str();
    app.add_flag("--json", as_json, "print statistics as one JSON object");
    CLI11_PARSE(app, argc, argv);
    try {
        codec::BinaryImages images = codec::read_binary_images(in, limit);
        codec::Models models(vqvae, prior, Device::parse(device));
        codec::Stats st;
        std::string file = codec::compress(models, images.bits, lossless, images.from_png, &st);
        nn::write_file_atomic(out, file);
        double n = double(st.images), bits = 8.0 * double(st.bytes);
        nlohmann::json j = {{"images", st.images},
                            {"bytes", st.bytes},
                            {"header_bytes", codec::kHeaderBytes},
                            {"bytes_per_image", double(st.bytes) / n},
                            {"bits_per_image", bits / n},
                            {"ideal_bits_per_image", st.ideal_bits / n},
                            {"overhead_percent", 100.0 * (bits - st.ideal_bits) / st.ideal_bits},
                            {"lossless", lossless},
                            {"seconds", st.seconds},
                            {"images_per_s", n / st.seconds}};
        if (!lossless) j["pixel_error_rate"] = double(st.pixel_errors) / (n * 784.0);
        if (as_json) fmt::print("{}\n", j.dump());
        else
            fmt::print("{}: {} images, {} bytes ({:.2f} bytes/image; ideal {:.2f}), {:.0f} images/s{}\n", out, st.images,
                       st.bytes, double(st.bytes) / n, st.ideal_bits / 8.0 / n, n / st.seconds,
                       lossless ? "" : fmt::format(", pixel error rate {:.4f}", j["pixel_error_rate"].get<double>()));
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "compress: error: {}\n", e.what());
        return 1;
    }
}
