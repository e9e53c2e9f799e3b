// sample: a PNG grid of images decoded from PixelCNN prior samples, or, with
// --condition-top ROWS, test images whose top code rows are kept and the rest
// sampled (inpainting); with all 7 rows kept, their reconstructions. With
// --pixelcnn, binary images drawn pixel by pixel from the pixel-level
// PixelCNN (all n together, one position at a time).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>

#include "data/png.hpp"
#include "io/files.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/tasks.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
    using namespace vq;
    CLI::App app{"Sample images from a VQ-VAE + Gated PixelCNN prior, or from a pixel-level PixelCNN (--pixelcnn)"};
    std::string vqvae_path, prior_path, pixelcnn_path, out, data_dir = data::kDefaultDataDir, device_name = "cpu";
    int64_t n = 16, keep_rows = 0, columns = 8, scale = data::kDefaultGridScale;
    double temperature = 1.0;
    uint64_t seed = 0;
    app.add_option("--vqvae", vqvae_path, "VQ-VAE model.safetensors (with --prior)");
    app.add_option("--prior", prior_path, "prior model.safetensors");
    app.add_option("--pixelcnn", pixelcnn_path, "pixel PixelCNN model.safetensors (train --model pixelcnn), instead of "
                   "--vqvae and --prior");
    app.add_option("-n", n, "number of images")->capture_default_str()->check(vq::cli::count_in(1, 1024));
    app.add_option("--out", out, "output PNG")->required();
    app.add_option("--temperature", temperature, "softmax temperature")->capture_default_str()->check(vq::cli::positive_real());
    app.add_option("--seed", seed, "random seed")->capture_default_str();
    app.add_option("--columns", columns, "images per grid row")->capture_default_str()->check(vq::cli::count_in(1, 1024));
    app.add_option("--scale", scale, "enlarge the grid this many times (nearest neighbour)")->capture_default_str()
        ->check(vq::cli::count_in(1, 64));
    app.add_option("--condition-top", keep_rows,
                   "keep the top ROWS of code rows (of 7) of the first n test images, sample the rest (7: the plain "
                   "reconstructions)")
        ->check(vq::cli::count_in(0, 7));
    app.add_option("--data", data_dir, "directory of IDX files (for --condition-top)")->capture_default_str();
    app.add_option("--device", device_name, "cpu | cuda")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        const bool pixel = !pixelcnn_path.empty(), latent = !vqvae_path.empty() || !prior_path.empty();
        if (pixel == latent || vqvae_path.empty() != prior_path.empty())
            throw std::invalid_argument("give either --vqvae and --prior (a VQ-VAE and its prior) or --pixelcnn (a pixel PixelCNN)");
        io::refuse_output_over_input({{"--out", out}},
                                     {{"--vqvae", vqvae_path}, {"--prior", prior_path}, {"--pixelcnn", pixelcnn_path}});
        Device device = Device::parse(device_name);
        Generator gen(seed);
        if (!pixelcnn_path.empty()) {
            if (keep_rows > 0) throw std::invalid_argument("--condition-top keeps code rows: it needs --vqvae and --prior");
            std::unique_ptr<models::GatedPixelCNN> model = models::load_pixelcnn(pixelcnn_path, device);
            const auto t0 = std::chrono::steady_clock::now();
            Tensor pixels = models::sample_raster(*model, n, 28, temperature, gen);  // [n, 28, 28] of 0/1
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            data::write_png_grid(out, pixels.to(DType::F32).reshape({n, 1, 28, 28}), columns, scale);
            fmt::print(stderr, "wrote {}: {} images in {:.2f} s ({:.1f} images/s)\n", out, n, seconds, double(n) / seconds);
            return 0;
        }
        std::unique_ptr<models::VQVAE> vqvae_ptr = models::load_vqvae(vqvae_path, device);
        std::unique_ptr<models::GatedPixelCNN> prior_ptr = models::load_prior(prior_path, device);
        models::check_prior_matches(*prior_ptr, prior_path, *vqvae_ptr, vqvae_path);
        const models::VQVAE& vqvae = *vqvae_ptr;
        const models::GatedPixelCNN& prior = *prior_ptr;
        if (keep_rows == 0) {
            Tensor codes = prior.sample(n, temperature, gen, device);
            models::write_decoded_grid(vqvae, codes, device, gen, out, columns, scale);
        } else {
            models::TestSet test(data_dir, n);
            if (test.count < n)
                throw std::invalid_argument(fmt::format("--condition-top keeps the code rows of the first -n {} test images, "
                                                        "but {} holds only {}: give -n {} or less", n, data_dir,
                                                        test.count, test.count));
            Tensor bits = test.bits(0, test.count);
            Tensor given = vqvae.encode(bits.to(device)).to(Device::cpu());
            Tensor codes = prior.sample(n, temperature, gen, device, given, keep_rows);
            // top: the test images; bottom: their top rows kept, the rest sampled
            Tensor probs = models::decoded_images(vqvae, codes, device, gen);
            Tensor grid = Tensor::empty({2 * n, 1, 28, 28});
            grid.narrow(0, 0, n).copy_from(bits);
            grid.narrow(0, n, n).copy_from(probs);
            data::write_png_grid(out, grid, n, scale);
        }
        fmt::print(stderr, "wrote {}\n", out);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "sample: error: {}\n", e.what());
        return 1;
    }
}
