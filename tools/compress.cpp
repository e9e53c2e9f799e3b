// compress: binary images -> .vqz, coded under the VQ-VAE + PixelCNN prior,
// (--vae) a bits-back file coded under the VAE, or (--pixelcnn) a pixel
// codec file coded under the pixel-level PixelCNN.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/bits_back.hpp"
#include "codec/io.hpp"
#include "codec/pixel_codec.hpp"
#include "codec/vqz.hpp"
#include "io/files.hpp"
#include "nn/safetensors.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
    using namespace vq;
    CLI::App app{"Compress binarized images losslessly: under the VQ-VAE + Gated PixelCNN prior (.vqz, rANS), "
                 "under the VAE by bits-back coding (--vae), or under the pixel-level PixelCNN (--pixelcnn, rANS)"};
    std::string vqvae, prior, vae, pixelcnn, in, out, device = "cpu";
    bool lossless = false, as_json = false;
    int64_t limit = 0;
    codec::BitsBackConfig bb;
    app.add_option("--vqvae", vqvae, "VQ-VAE model.safetensors (with --prior: the .vqz codec)");
    app.add_option("--prior", prior, "prior model.safetensors");
    app.add_option("--vae", vae, "VAE model.safetensors: bits-back coding (always lossless)");
    app.add_option("--pixelcnn", pixelcnn, "pixel PixelCNN model.safetensors (train --model pixelcnn): every pixel "
                   "coded under its conditional (always lossless)");
    app.add_option("--lanes", bb.lanes, "bits-back: at most this many independent stacks; a set gets one per 64 images")->capture_default_str()
        ->check(vq::cli::count_in(1, 65535));
    app.add_option("--latent-bits", bb.latent_bits, "bits-back: 2^p buckets per latent dimension")->capture_default_str()
        ->check(vq::cli::count_in(1, 16));
    app.add_option("--posterior-bits", bb.posterior_bits, "bits-back: precision of the posterior's frequencies")
        ->capture_default_str()->check(vq::cli::count_in(2, 24));
    app.add_option("--in", in, "IDX directory (its t10k images, deterministically binarized) or a 1-bit PNG")->required();
    app.add_option("--out", out, "output file (.vqz, bits-back or pixel codec)")->required();
    app.add_flag("--lossless", lossless, "also code every pixel under the decoder's probability (exact round trip)");
    app.add_option("--limit", limit, "first N images of an IDX set (0: all)")->capture_default_str()
        ->check(vq::cli::at_least(0));
    app.add_option("--device", device, "cpu | cuda")->capture_default_str();
    app.add_flag("--json", as_json, "print statistics as one JSON object");
    CLI11_PARSE(app, argc, argv);
    try {
        const int codecs = int(!vqvae.empty() || !prior.empty()) + int(!vae.empty()) + int(!pixelcnn.empty());
        if (codecs != 1 || vqvae.empty() != prior.empty())
            throw std::invalid_argument("give either --vqvae and --prior (the .vqz codec), or --vae (bits-back), or "
                                        "--pixelcnn (the pixel codec)");
        io::refuse_output_over_input({{"--out", out}}, {{"--in", in}, {"--in", in + "/t10k-images-idx3-ubyte"},
                                                        {"--in", in + "/t10k-images-idx3-ubyte.gz"}, {"--vqvae", vqvae},
                                                        {"--prior", prior}, {"--vae", vae},
                                                        {"--pixelcnn", pixelcnn}});
        codec::BinaryImages images = codec::read_binary_images(in, limit);
        codec::Stats st;
        std::string file;
        const char* codec_name = "vqz";
        size_t header_bytes = codec::kHeaderBytes;
        if (!pixelcnn.empty()) {
            codec::PixelModel model(pixelcnn, Device::parse(device));
            file = codec::compress_pixels(model, images.bits, images.kind, &st);
            lossless = true;
            codec_name = "pixel";
            header_bytes = codec::kPixelHeaderBytes;
        } else if (!vae.empty()) {
            codec::VaeModel model(vae, Device::parse(device));
            file = codec::compress_bits_back(model, images.bits, images.kind, bb, &st);
            lossless = true;
            codec_name = "bits-back";
            header_bytes = codec::kBitsBackHeaderBytes;
        } else {
            codec::Models models(vqvae, prior, Device::parse(device));
            file = codec::compress(models, images.bits, lossless, images.kind, &st);
        }
        io::write_file_atomic(out, file);
        double n = double(st.images), bits = 8.0 * double(st.bytes);
        nlohmann::json j = {{"codec", codec_name},
                            {"images", st.images},
                            {"bytes", st.bytes},
                            {"header_bytes", header_bytes},
                            {"bytes_per_image", double(st.bytes) / n},
                            {"bits_per_image", bits / n},
                            {"ideal_bits_per_image", st.ideal_bits / n},
                            {"overhead_percent", 100.0 * (bits - st.ideal_bits) / st.ideal_bits},
                            {"lossless", lossless},
                            {"stored", st.stored},
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
