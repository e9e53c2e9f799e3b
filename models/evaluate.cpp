#include "models/evaluate.hpp"
#include "models/mixture.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "models/checkpoint.hpp"
#include "models/progress.hpp"
#include "models/tasks.hpp"
#include "nn/safetensors.hpp"

namespace vq::models {

using json = nlohmann::json;

double nats_to_bits_per_dim(double nats, int64_t dims) { return nats / (double(dims) * std::log(2.0)); }

namespace {

// "plain", or "AR decoder CxL" (channels x layers), for labels and JSON
std::string decoder_label(const DecoderConfig& c) {
    return c.autoregressive ? fmt::format("AR decoder {}x{}", c.channels, c.layers) : "plain";
}

// "VQ-VAE K = 4 (density preset, AR decoder 16x2)"
std::string vqvae_label(int64_t K, const std::string& preset, const DecoderConfig& decoder) {
    std::vector<std::string> notes;
    if (!preset.empty()) notes.push_back(preset + " preset");
    if (decoder.autoregressive) notes.push_back(decoder_label(decoder));
    std::string s = fmt::format("VQ-VAE K = {}", K);
    for (size_t i = 0; i < notes.size(); ++i) s += (i == 0 ? " (" : ", ") + notes[i];
    return notes.empty() ? s : s + ")";
}

// The wall seconds a model file's run trained for: the largest "seconds" in
// the metrics.jsonl beside it (-1 when there is none, e.g. a copied file).
double training_seconds(const std::string& model_path) {
    if (model_path.empty()) return -1;
    std::ifstream in(std::filesystem::path(model_path).parent_path() / "metrics.jsonl");
    double seconds = -1;
    std::string line;
    while (std::getline(in, line)) {
        try {
            json j = json::parse(line);
            if (j.contains("seconds") && j["seconds"].is_number()) seconds = std::max(seconds, j["seconds"].get<double>());
        } catch (const json::exception&) {
        }
    }
    return seconds;
}

// Test NLL of one VQ-VAE (and its prior, if given): recon, the uniform and
// prior bounds, and the test set's code usage.
json evaluate_vqvae(const std::string& vqvae_path, const std::string& prior_path, const TestSet& test, Device device,
                    int64_t chunk) {
    const int64_t n = test.count;
    std::unique_ptr<VQVAE> vqvae = load_vqvae(vqvae_path, device);
    std::unique_ptr<GatedPixelCNN> prior;
    if (!prior_path.empty()) {  // checked before the long part
        prior = load_prior(prior_path, device);
        check_prior_matches(*prior, prior_path, *vqvae, vqvae_path);
    }
    const int64_t K = vqvae->config.num_codes;
    std::string preset = nn::load_safetensors(vqvae_path).metadata["preset"];
    json out = {{"file", vqvae_path},
                {"codes", K},
                {"decoder", decoder_label(vqvae->config.decoder)},
                {"label", vqvae_label(K, preset, vqvae->config.decoder)}};
    double recon = 0;
    Tensor codes = Tensor::empty({n, 7, 7}, DType::I64);
    ProgressBar bar("VQ-VAE recon", n);
    for (int64_t first = 0; first < n; first += chunk) {
        int64_t m = std::min(chunk, n - first);
        ag::NoGradGuard no_grad;
        VQVAE::Output r = vqvae->forward(test.bits(first, m).to(device));
        recon += r.recon.value().item() * double(m);
        codes.narrow(0, first, m).copy_from(r.q.codes.to(Device::cpu()));
        bar.update(first + m, m);
    }
    bar.finish();
    recon /= double(n);
    out["vqvae_recon_nats"] = recon;
    out["vqvae_uniform_nats"] = recon + 49.0 * std::log(double(K));  // 49 codes, each -ln(1/K)
    std::vector<bool> used(size_t(K), false);
    for (int64_t k : codes.to_ints()) used[size_t(k)] = true;
    out["codes_used"] = std::count(used.begin(), used.end(), true);
    out["perplexity"] = perplexity_of(codes, K).item();
    if (prior) {
        out["prior_file"] = prior_path;
        double nll = 0;
        ProgressBar pbar("prior NLL", n);
        for (int64_t first = 0; first < n; first += chunk) {
            int64_t m = std::min(chunk, n - first);
            nll += sum(prior->nll_per_image(codes.narrow(0, first, m).contiguous().to(device))).item();
            pbar.update(first + m, m);
        }
        pbar.finish();
        out["prior_nats"] = nll / double(n);
        out["vqvae_prior_nats"] = recon + nll / double(n);
        const double sv = training_seconds(vqvae_path), sp = training_seconds(prior_path);
        out["seconds"] = sv < 0 || sp < 0 ? -1.0 : sv + sp;
    }
    return out;
}

// The entropy the dynamic binarization itself adds, sum over pixels of
// h(x / 255) in nats, averaged over the test images: no model of the
// binarized images can go below it.
double binarization_floor(const TestSet& test) {
    const int64_t hw = test.data.height * test.data.width;
    double total = 0;
    for (int64_t i = 0; i < test.count * hw; ++i) {
        const double p = test.data.pixels[size_t(i)] / 255.0;
        if (p > 0 && p < 1) total -= p * std::log(p) + (1 - p) * std::log1p(-p);
    }
    return total / double(test.count);
}

// A bound that is NaN or infinite is no result: it comes from a model file
// with non-finite weights. Refused, naming the figure, rather than printed
// as "nan" or written to JSON as null.
void refuse_non_finite(const json& j, const std::string& where) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string key = j.is_object() ? it.key() : std::to_string(std::distance(j.begin(), it));
        if (it->is_structured()) refuse_non_finite(*it, where + key + ".");
        else if (it->is_number_float() && !std::isfinite(it->get<double>()))
            throw std::runtime_error(fmt::format("{}{} is {}: a model file{} holds non-finite weights, so no table is "
                                                 "reported", where, key, it->get<double>(),
                                                 j.contains("file") ? " (" + j["file"].get<std::string>() + ")" : ""));
    }
}

}  // namespace

json evaluate_density(const EvalOptions& o) {
    if (!o.prior.empty() && o.vqvae.empty()) throw std::invalid_argument("--prior needs the --vqvae whose codes it models");
    if (o.vqvae.empty() && o.vae.empty() && o.mixture.empty() && o.pixelcnn.empty())
        throw std::invalid_argument("give at least --vqvae, --vae, --pixelcnn or --mixture");
    if (o.vqvae.empty() && !o.more_vqvae.empty()) throw std::invalid_argument("more VQ-VAEs need a first --vqvae");
    if (o.limit < 0) throw std::invalid_argument("--limit must not be negative, got " + std::to_string(o.limit));
    if (o.iw_limit < 0) throw std::invalid_argument("--iw-limit must not be negative, got " + std::to_string(o.iw_limit));
    if (o.iw_k < 1) throw std::invalid_argument("--iw must be at least 1, got " + std::to_string(o.iw_k));
    Device device = Device::parse(o.device);
    TestSet test(o.data_dir, o.limit > 0 ? o.limit : 0);
    const int64_t n = test.count, chunk = 500;
    json out = {{"images", n}, {"floor_nats", binarization_floor(test)}};

    if (!o.vqvae.empty()) {
        std::vector<std::pair<std::string, std::string>> pairs = {{o.vqvae, o.prior}};
        pairs.insert(pairs.end(), o.more_vqvae.begin(), o.more_vqvae.end());
        json all = json::array();
        for (const auto& [vq, pr] : pairs) all.push_back(evaluate_vqvae(vq, pr, test, device, chunk));
        // the first VQ-VAE's numbers under docs/design.md's top-level keys
        for (const char* k : {"codes", "vqvae_recon_nats", "vqvae_uniform_nats", "codes_used", "perplexity", "prior_nats",
                              "vqvae_prior_nats"})
            if (all[0].contains(k)) out[k] = all[0][k];
        out["vqvae_models"] = all;
    }
    if (!o.vae.empty()) {
        std::unique_ptr<VAE> vae_ptr = load_vae(o.vae, device);
        const VAE& vae = *vae_ptr;
        Generator gen(o.seed);
        double elbo = 0, iwae = 0;
        const int64_t iw_n = o.iw_limit > 0 ? std::min(o.iw_limit, n) : n;
        // small image chunks keep k decoder passes per image within memory
        const int64_t iw_chunk = std::max<int64_t>(1, std::min<int64_t>(chunk, 4096 / o.iw_k));
        // Two bars, so each one's ETA extrapolates its own rate: the IWAE part
        // (k decoder passes per image) runs far slower than the ELBO-only rest.
        // The chunks, and so the random stream, are the same for both.
        auto bar = std::make_unique<ProgressBar>(fmt::format("VAE ELBO + IWAE-{}", o.iw_k), iw_n);
        int64_t rest_start = -1;  // where the ELBO-only chunks begin
        for (int64_t first = 0; first < n; first += iw_chunk) {
            int64_t m = std::min(iw_chunk, n - first);
            if (first >= iw_n && rest_start < 0) {
                bar->finish();
                rest_start = first;
                bar = std::make_unique<ProgressBar>("VAE ELBO", n - first);
            }
            Tensor x = test.bits(first, m).to(device);
            elbo += sum(vae.negative_elbo(x, gen)).item();
            if (first < iw_n) {
                int64_t k = std::min(m, iw_n - first);
                iwae += sum(vae.iwae_nll(x.narrow(0, 0, k), o.iw_k, gen)).item();
                bar->update(first + k, k);
            } else {
                bar->update(first + m - rest_start, m);
            }
        }
        bar->finish();
        out["vae_elbo_nats"] = elbo / double(n);
        out["vae_iwae_nats"] = iwae / double(iw_n);
        out["vae_seconds"] = training_seconds(o.vae);
        out["vae_decoder"] = decoder_label(vae.decoder.config);
        out["iw_k"] = o.iw_k;
        out["iw_images"] = iw_n;
    }
    if (!o.mixture.empty()) {
        int64_t iterations = 0;
        std::unique_ptr<BernoulliMixture> mixture = load_mixture(o.mixture, &iterations);
        if (mixture->probs.size(1) != 28 * 28)
            throw std::runtime_error(fmt::format("{}: a mixture over {} pixels, but the test images have {}", o.mixture,
                                                 mixture->probs.size(1), 28 * 28));
        double total = 0;  // exact: log p(x) for every test image
        for (int64_t first = 0; first < n; first += chunk) {
            int64_t m = std::min(chunk, n - first);
            total += sum(mixture->log_likelihood(test.bits(first, m))).item();
        }
        out["mixture_nats"] = -total / double(n);
        out["mixture_components"] = mixture->components();
        out["mixture_iterations"] = iterations;
        out["mixture_seconds"] = training_seconds(o.mixture);
    }
    if (!o.pixelcnn.empty()) {
        std::unique_ptr<GatedPixelCNN> pixel = load_pixelcnn(o.pixelcnn, device);
        ag::NoGradGuard no_grad;
        out["pixelcnn_nats"] = pixel_nll(*pixel, test, device);
        out["pixelcnn_layers"] = pixel->config.layers;
        out["pixelcnn_channels"] = pixel->config.channels;
        out["pixelcnn_seconds"] = training_seconds(o.pixelcnn);
    }
    refuse_non_finite(out, "");
    return out;
}

std::string format_density_table(const json& r) {
    std::string s = fmt::format("Test NLL on {} binarized Fashion-MNIST test images (lower is better)\n", r["images"].get<int64_t>());
    s += fmt::format("{:<72} {:>12} {:>10} {:>9}\n", "model", "nats/image", "bits/dim", "train s");
    auto line = [&](const std::string& label, double v, double seconds) {
        s += fmt::format("{:<72} {:>12.2f} {:>10.4f} {:>9}\n", label, v, nats_to_bits_per_dim(v),
                         seconds < 0 ? std::string("-") : fmt::format("{:.0f}", seconds));
    };
    // `seconds_key`: the row's training seconds in `from` (the VQ-VAE's and its prior's together)
    auto row = [&](const std::string& label, const json& from, const char* key, const char* seconds_key = "") {
        if (from.contains(key))
            line(label, from[key].get<double>(), from.contains(seconds_key) ? from[seconds_key].get<double>() : -1.0);
    };
    // one or several VQ-VAEs (older JSON has only the top-level keys)
    json models = r.contains("vqvae_models") ? r["vqvae_models"] : json::array();
    if (models.empty() && r.contains("vqvae_recon_nats")) {
        json m = r;
        m["label"] = fmt::format("VQ-VAE K = {}", r.value("codes", int64_t(512)));
        models.push_back(m);
    }
    for (const json& m : models) {
        const std::string label = m["label"].get<std::string>();
        row(label + ", uniform prior (bound)", m, "vqvae_uniform_nats");
        row(label + " + PixelCNN prior (bound)", m, "vqvae_prior_nats", "seconds");
    }
    const std::string vae = r.value("vae_decoder", std::string("plain")) == "plain" ? "VAE" : "VAE (" + r["vae_decoder"].get<std::string>() + ")";
    row(vae + " -ELBO (bound)", r, "vae_elbo_nats", "vae_seconds");
    if (r.contains("iw_k")) {
        std::string on = r.value("iw_images", r["images"].get<int64_t>()) == r["images"].get<int64_t>()
                             ? "" : fmt::format(", first {}", r["iw_images"].get<int64_t>());
        row(fmt::format("{} IWAE-{} (estimate{})", vae, r["iw_k"].get<int64_t>(), on), r, "vae_iwae_nats", "vae_seconds");
    }
    if (r.contains("pixelcnn_nats"))
        row(fmt::format("Gated PixelCNN over pixels, {} x {} layers (exact)", r.value("pixelcnn_channels", int64_t(0)),
                        r.value("pixelcnn_layers", int64_t(0))), r, "pixelcnn_nats", "pixelcnn_seconds");
    if (r.contains("mixture_nats"))
        row(fmt::format("Mixture of {} Bernoullis, {} EM iterations (exact)", r.value("mixture_components", int64_t(0)),
                        r.value("mixture_iterations", int64_t(0))), r, "mixture_nats", "mixture_seconds");
    row("floor: irreducible under this binarization", r, "floor_nats");
    for (const json& m : models) {
        s += fmt::format("  {}: recon NLL {:.2f} nats/image", m["label"].get<std::string>(), m["vqvae_recon_nats"].get<double>());
        if (m.contains("prior_nats"))
            s += fmt::format("; prior NLL {:.2f} nats/image = {:.3f} nats/latent", m["prior_nats"].get<double>(),
                             m["prior_nats"].get<double>() / 49.0);
        if (m.contains("codes_used"))
            s += fmt::format("; {} codes used, perplexity {:.1f}", m["codes_used"].get<int64_t>(), m["perplexity"].get<double>());
        s += "\n";
    }
    return s;
}

}  // namespace vq::models
