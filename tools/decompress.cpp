// decompress: .vqz -> binary images (an IDX directory or a 1-bit PNG, as compressed).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "codec/io.hpp"
#include "codec/vqz.hpp"
#include "nn/safetensors.hpp"

int main(int argc, char** argv) {
    using namespace vq;
    CLI::App app{"Decompress a .vqz file with the same VQ-VAE and prior that compressed it"};
    std::string vqvae, prior, in, out, device = "cpu";
    app.add_option("--vqvae", vqvae, "VQ-VAE model.safetensors")->required();
    app.add_option("--prior", prior, "prior model.safetensors")->required();
    app.add_option("--in", in, "input .vqz file")->required();
    app.add_option("--out", out, "output: a directory (IDX input) or a .png file (PNG input)")->required();
    app.add_option("--device", device, "cpu | cuda")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        codec::Models models(vqvae, prior, Device::parse(device));
        codec::Stats st;
        codec::Decoded d = codec::decompress(models, nn::read_file(in), in, &st);
        codec::write_binary_images(out, d.bits, d.from_png);
        fmt::print(stderr, "{}: {} images ({}), {:.0f} images/s\n", out, st.images, d.lossless ? "lossless" : "lossy",
                   double(st.images) / st.seconds);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "decompress: error: {}\n", e.what());
        return 1;
    }
}
