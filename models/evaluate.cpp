#include "models/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/checkpoint.hpp"
#include "models/progress.hpp"
#include "models/tasks.hpp"

namespace vq::models {

using json = nlohmann::json;

double nats_to_bits_per_dim(double nats, int64_t dims) { return nats / (double(dims) * std::log(2.0)); }

json evaluate_density(const EvalOptions& o) {
    if (!o.prior.empty() && o.vqvae.empty()) throw std::invalid_argument("--prior needs the --vqvae whose codes it models");
    if (o.vqvae.empty() && o.vae.empty()) throw std::invalid_argument("give at least --vqvae or --vae");
    if (o.limit < 0) throw std::invalid_argument("--limit must not be negative, got " + std::to_string(o.limit));
    if (o.iw_limit < 0) throw std::invalid_argument("--iw-limit must not be negative, got " + std::to_string(o.iw_limit));
    if (o.iw_k < 1) throw std::invalid_argument("--iw must be at least 1, got " + std::to_string(o.iw_k));
    Device device = Device::parse(o.device);
    TestSet test(o.data_dir, o.limit > 0 ? o.limit : 0);
    const int64_t n = test.count, chunk = 500;
    json out = {{"images", n}};
    Generator init(0);

    if (!o.vqvae.empty()) {
        std::unique_ptr<VQVAE> vqvae = load_vqvae(o.vqvae, device);
        std::unique_ptr<GatedPixelCNN> prior;
        if (!o.prior.empty()) {  // checked before the long part
            prior = load_prior(o.prior, device);
            check_prior_matches(*prior, o.prior, *vqvae, o.vqvae);
        }
        const int64_t K = vqvae->config.num_codes;
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
        out["codes"] = K;
        out["vqvae_recon_nats"] = recon;
        out["vqvae_uniform_nats"] = recon + 49.0 * std::log(double(K));  // 49 codes, each -ln(1/K)
        // code usage on the test set: how many of the K codes occur, and the perplexity of their histogram
        {
            std::vector<bool> used(size_t(K), false);
            for (int64_t k : codes.to_ints()) used[size_t(k)] = true;
            out["codes_used"] = std::count(used.begin(), used.end(), true);
            out["perplexity"] = perplexity_of(codes, K).item();
        }
        if (prior) {
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
        }
    }
    if (!o.vae.empty()) {
        VAE vae(init);
        load_model_file(vae, o.vae, "vae");
        vae.to(device);
        Generator gen(o.seed);
        double elbo = 0, iwae = 0;
        const int64_t iw_n = o.iw_limit > 0 ? std::min(o.iw_limit, n) : n;
        // small image chunks keep k decoder passes per image within memory
        const int64_t iw_chunk = std::max<int64_t>(1, std::min<int64_t>(chunk, 4096 / o.iw_k));
        ProgressBar bar(fmt::format("VAE ELBO + IWAE-{}", o.iw_k), n);
        for (int64_t first = 0; first < n; first += iw_chunk) {
            int64_t m = std::min(iw_chunk, n - first);
            Tensor x = test.bits(first, m).to(device);
            elbo += sum(vae.negative_elbo(x, gen)).item();
            if (first < iw_n) iwae += sum(vae.iwae_nll(x.narrow(0, 0, std::min(m, iw_n - first)), o.iw_k, gen)).item();
            bar.update(first + m, m);
        }
        bar.finish();
        out["vae_elbo_nats"] = elbo / double(n);
        out["vae_iwae_nats"] = iwae / double(iw_n);
        out["iw_k"] = o.iw_k;
        out["iw_images"] = iw_n;
    }
    return out;
}

std::string format_density_table(const json& r) {
    std::string s = fmt::format("Test NLL on {} binarized Fashion-MNIST test images (lower is better)\n", r["images"].get<int64_t>());
    s += fmt::format("{:<34} {:>12} {:>10}\n", "model", "nats/image", "bits/dim");
    auto row = [&](const std::string& label, const char* key) {
        if (r.contains(key)) {
            double v = r[key].get<double>();
            s += fmt::format("{:<34} {:>12.2f} {:>10.4f}\n", label, v, nats_to_bits_per_dim(v));
        }
    };
    row("VQ-VAE, uniform prior (bound)", "vqvae_uniform_nats");
    row("VQ-VAE + PixelCNN prior (bound)", "vqvae_prior_nats");
    row("VAE -ELBO (bound)", "vae_elbo_nats");
    if (r.contains("iw_k")) {
        std::string on = r.value("iw_images", r["images"].get<int64_t>()) == r["images"].get<int64_t>()
                             ? "" : fmt::format(", first {}", r["iw_images"].get<int64_t>());
        row(fmt::format("VAE IWAE-{} (estimate{})", r["iw_k"].get<int64_t>(), on), "vae_iwae_nats");
    }
    if (r.contains("vqvae_recon_nats")) {
        s += fmt::format("  VQ-VAE (K = {}) recon NLL {:.2f} nats/image", r.value("codes", int64_t(512)),
                         r["vqvae_recon_nats"].get<double>());
        if (r.contains("prior_nats"))
            s += fmt::format("; prior NLL {:.2f} nats/image = {:.3f} nats/latent", r["prior_nats"].get<double>(),
                             r["prior_nats"].get<double>() / 49.0);
        if (r.contains("codes_used"))
            s += fmt::format("; {} codes used, perplexity {:.1f}", r["codes_used"].get<int64_t>(), r["perplexity"].get<double>());
        s += "\n";
    }
    return s;
}

}  // namespace vq::models
