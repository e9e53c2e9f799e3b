// decompress: .vqz (or, with --vae, bits-back; with --pixelcnn, the pixel
// codec) -> binary images (an IDX directory, an IDX file or a 1-bit PNG, as
// compressed). Nothing is written unless the decode checked out.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "codec/bits_back.hpp"
#include "codec/io.hpp"
#include "codec/pixel_codec.hpp"
#include "codec/vqz.hpp"
#include "io/files.hpp"
#include "nn/safetensors.hpp"

int main(int argc, char** argv) {
    using namespace vq;
    CLI::App app{"Decompress a file with the same models that compressed it: a .vqz file (--vqvae, --prior), "
                 "a bits-back file (--vae) or a pixel codec file (--pixelcnn)"};
    std::string vqvae, prior, vae, pixelcnn, in, out, device = "cpu";
    app.add_option("--vqvae", vqvae, "VQ-VAE model.safetensors (with --prior: a .vqz file)");
    app.add_option("--prior", prior, "prior model.safetensors");
    app.add_option("--vae", vae, "VAE model.safetensors (a bits-back file)");
    app.add_option("--pixelcnn", pixelcnn, "pixel PixelCNN model.safetensors (a pixel codec file)");
    app.add_option("--in", in, "input file (.vqz, bits-back or pixel codec)")->required();
    app.add_option("--out", out, "output: a directory (IDX input) or a .png file (PNG input)")->required();
    app.add_option("--device", device, "cpu | cuda")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        const int codecs = int(!vqvae.empty() || !prior.empty()) + int(!vae.empty()) + int(!pixelcnn.empty());
        if (codecs != 1 || vqvae.empty() != prior.empty())
            throw std::invalid_argument("give either --vqvae and --prior (a .vqz file), or --vae (a bits-back file), or "
                                        "--pixelcnn (a pixel codec file)");
        // an IDX directory output is written as OUT/t10k-images-idx3-ubyte
        io::refuse_output_over_input({{"--out", out}, {"--out", out + "/t10k-images-idx3-ubyte"}},
                                     {{"--in", in}, {"--vqvae", vqvae}, {"--prior", prior}, {"--vae", vae},
                                      {"--pixelcnn", pixelcnn}});
        codec::Stats st;
        codec::Decoded d;
        if (!pixelcnn.empty()) {
            codec::PixelModel model(pixelcnn, Device::parse(device));
            d = codec::decompress_pixels(model, io::read_file(in), in, &st);
        } else if (!vae.empty()) {
            codec::VaeModel model(vae, Device::parse(device));
            d = codec::decompress_bits_back(model, io::read_file(in), in, &st);
        } else {
            codec::Models models(vqvae, prior, Device::parse(device));
            d = codec::decompress(models, io::read_file(in), in, &st);
        }
        // an IDX folder is written into, so an earlier set there would be replaced: refused
        if (d.kind == codec::InputKind::IdxDirectory && std::filesystem::exists(out + "/t10k-images-idx3-ubyte"))
            throw std::invalid_argument("--out " + out + " already holds t10k-images-idx3-ubyte: decompress into a new "
                                        "folder (nothing was written)");
        codec::write_binary_images(out, d.bits, d.kind);
        fmt::print(stderr, "{}: {} images ({}), {:.0f} images/s\n", out, st.images, d.lossless ? "lossless" : "lossy",
                   double(st.images) / st.seconds);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "decompress: error: {}\n", e.what());
        return 1;
    }
}
