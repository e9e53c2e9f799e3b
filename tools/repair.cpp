// repair: fills damaged regions of binary images with a VQ-VAE and its prior,
// or denoises them (--noise, --denoise); writes a PNG grid of damaged |
// repaired | original per image, and with --json the pixel errors against
// the originals and against two baselines (models/repair.hpp).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "codec/io.hpp"
#include "data/idx.hpp"
#include "data/png.hpp"
#include "io/files.hpp"
#include "models/checkpoint.hpp"
#include "models/progress.hpp"
#include "models/repair.hpp"
#include "tools/cli.hpp"

using namespace vq;

namespace {

// fraction of the pixels where `where` is 1 that differ between a and b
double error_rate(const Tensor& a, const Tensor& b, const Tensor& where) {
    double wrong = sum(mul(ne(gt(a, 0.5), gt(b, 0.5)), where)).item(), total = sum(where).item();
    return total > 0 ? wrong / total : 0.0;
}

// --mask: a rectangle x,y,w,h (anything made of digits, commas and signs is
// read as one) or a 28x28 PNG whose nonzero pixels are damaged
Tensor mask_of_argument(const std::string& arg) {
    if (arg.find_first_not_of("0123456789,+- ") == std::string::npos) {
        long long v[4];
        int used = 0;
        if (std::sscanf(arg.c_str(), "%lld,%lld,%lld,%lld%n", &v[0], &v[1], &v[2], &v[3], &used) != 4 ||
            used != int(arg.size()))
            throw std::invalid_argument("--mask " + arg + ": expected a rectangle x,y,w,h (four integers) or a PNG file");
        return models::rectangle_mask(v[0], v[1], v[2], v[3]);
    }
    Tensor mask = gt(data::read_png_gray(arg), 0.0);
    if (mask.shape() != Shape{1, 1, 28, 28})
        throw std::invalid_argument("--mask " + arg + ": expected a 28x28 PNG, got " + mask.shape_str());
    return mask;
}

// the damaged pixels drawn gray, for the picture
Tensor show_damage(const Tensor& x, const Tensor& mask) { return add(mul(x, add(neg(mask), 1.0)), mul(mask, 0.5)); }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Repair damaged regions of binary images, or denoise them, with a VQ-VAE and its PixelCNN prior"};
    std::string vqvae_path, prior_path, in = data::kDefaultDataDir, mask_arg, out, device_name = "cpu", data_dir = data::kDefaultDataDir;
    int64_t candidates = 16, limit = 8, holes = 0, show = 8, scale = data::kDefaultGridScale;
    double temperature = 1.0, noise = 0;
    bool denoise = false, as_json = false;
    uint64_t seed = 0;
    app.add_option("--vqvae", vqvae_path, "VQ-VAE model.safetensors")->required();
    app.add_option("--prior", prior_path, "PixelCNN prior model.safetensors (for repair)");
    app.add_option("--in", in, "images: an IDX directory (its test images), an IDX images file or a 1-bit PNG")
        ->capture_default_str();
    app.add_option("--mask", mask_arg, "damaged pixels: a PNG (nonzero = damaged) or a rectangle x,y,w,h");
    auto* holes_opt = app.add_option("--random-holes", holes, "a random W x W square hole per image (for measuring)")
        ->check(cli::count_in(1, 28));
    auto* noise_opt = app.add_option("--noise", noise, "denoise: flip each pixel with probability P first, then denoise")
        ->check(cli::real_in(0, 1));
    app.add_flag("--denoise", denoise, "denoise the input as it is (already noisy)");
    app.add_option("-n", candidates, "repair candidates per image")->capture_default_str()->check(cli::count_in(1, 1024));
    app.add_option("--temperature", temperature, "softmax temperature of the resampled codes")->capture_default_str()
        ->check(cli::positive_real());
    app.add_option("--limit", limit, "the first N images of the input (0: all)")->capture_default_str()
        ->check(cli::at_least(0));
    app.add_option("--seed", seed, "seed of the holes, the noise and the samples")->capture_default_str();
    app.add_option("--out", out, "output PNG: damaged | repaired | original, one image per row");
    app.add_option("--show", show, "images in the PNG")->capture_default_str()->check(cli::count_in(1, 256));
    app.add_option("--scale", scale, "enlarge the PNG this many times")->capture_default_str()->check(cli::count_in(1, 64));
    app.add_option("--data", data_dir, "IDX directory of the training set (the mean-fill baseline)")->capture_default_str();
    app.add_option("--device", device_name, "cpu | cuda")->capture_default_str();
    app.add_flag("--json", as_json, "print the pixel errors as one JSON object");
    CLI11_PARSE(app, argc, argv);
    try {
        const bool noisy_given = noise_opt->count() > 0, denoising = denoise || noisy_given;
        const int modes = int(denoising) + int(!mask_arg.empty()) + int(holes_opt->count() > 0);
        if (modes == 0) throw std::invalid_argument("give one of --mask, --random-holes, --noise or --denoise");
        if (modes > 1)
            throw std::invalid_argument("--mask, --random-holes and --noise/--denoise choose what to do: give only one of them");
        if (!denoising && prior_path.empty()) throw std::invalid_argument("repair needs --prior (the VQ-VAE's PixelCNN prior)");
        if (out.empty() && !as_json) throw std::invalid_argument("give --out FILE.png, --json, or both");
        io::refuse_output_over_input({{"--out", out}}, {{"--in", in}, {"--vqvae", vqvae_path}, {"--prior", prior_path},
                                                        {"--mask", mask_arg}, {"--data", data_dir}});
        Device device = Device::parse(device_name);
        Generator gen(seed);
        auto vqvae = models::load_vqvae(vqvae_path, device, models::Decoders::PlainOnly, "repair");
        Tensor images = codec::read_binary_images(in, limit).bits;  // [N, 1, 28, 28]
        const int64_t N = images.size(0);
        nlohmann::json result = {{"images", N}, {"vqvae", vqvae_path}};
        Tensor left, middle;  // the picture's first two columns

        if (denoising) {
            Tensor noisy = noisy_given ? models::add_flip_noise(images, noise, gen) : images;
            Tensor clean = models::denoise_images(*vqvae, noisy, device);
            Tensor all = Tensor::ones(images.shape());
            if (noise > 0 && noise < 0.5)  // the threshold that knows the noise level
                result["error_denoised_noise_aware"] = error_rate(models::denoise_images(*vqvae, noisy, device, noise), images, all);
            result["mode"] = "denoise";
            result["noise"] = noise;
            result["error_noisy_input"] = error_rate(noisy, images, all);
            result["error_denoised"] = error_rate(clean, images, all);
            left = noisy, middle = clean;
        } else {
            auto prior = models::load_prior(prior_path, device);
            models::check_prior_matches(*prior, prior_path, *vqvae, vqvae_path);
            Tensor mask = holes > 0 ? models::random_square_masks(N, holes, gen) : mask_of_argument(mask_arg);
            if (mask.size(0) == 1) mask = mask.expand(images.shape()).contiguous();
            // in chunks, so that candidates x images stay a few hundred maps
            Tensor repaired = Tensor::empty(images.shape()), recon = Tensor::empty(images.shape());
            models::ProgressBar bar("repair", N);
            for (int64_t first = 0; first < N; first += 32) {
                const int64_t n = std::min<int64_t>(32, N - first);
                Tensor x = images.narrow(0, first, n).contiguous(), mk = mask.narrow(0, first, n).contiguous();
                models::Repaired r = models::repair_images(*vqvae, *prior, x, mk, candidates, temperature, gen, device);
                repaired.narrow(0, first, n).copy_from(r.bits);
                // baseline 1: the plain reconstruction of the damaged image
                Tensor blank = mul(x, add(neg(mk), 1.0));
                recon.narrow(0, first, n).copy_from(models::denoise_images(*vqvae, blank, device));
                bar.update(first + n, n);
            }
            bar.finish();
            // baseline 2: the training set's mean image, thresholded
            Tensor mean_image = models::mean_image(data::load_split(data_dir, "train")).expand(images.shape()).contiguous();
            result["mode"] = "repair";
            result["candidates"] = candidates;
            result["damaged_pixels"] = int64_t(sum(mask).item());
            if (holes > 0) result["hole"] = holes;
            result["error_repair"] = error_rate(repaired, images, mask);
            result["error_reconstruction"] = error_rate(recon, images, mask);
            result["error_mean_fill"] = error_rate(mean_image, images, mask);
            left = show_damage(images, mask), middle = repaired;
        }
        if (!out.empty()) {
            const int64_t k = std::min(show, N);
            Tensor grid = Tensor::empty({3 * k, 1, 28, 28});
            for (int64_t i = 0; i < k; ++i) {
                grid.select(0, 3 * i).copy_from(left.select(0, i));
                grid.select(0, 3 * i + 1).copy_from(middle.select(0, i));
                grid.select(0, 3 * i + 2).copy_from(images.select(0, i));
            }
            data::write_png_grid(out, grid, 3, scale);
        }
        if (as_json) fmt::print("{}\n", result.dump());
        else
            for (auto& [k, v] : result.items()) fmt::print(stderr, "{}: {}\n", k, v.dump());
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "repair: error: {}\n", e.what());
        return 1;
    }
}
