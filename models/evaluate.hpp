// The density comparison: test NLL of whatever models are given, on the test
// set under the deterministic binarization, in nats per image (docs/design.md's
// keys) and bits per dim.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/idx.hpp"

namespace vq::models {

struct EvalOptions {
    std::string vqvae, prior, vae;
    std::string mixture;     // a mixture of Bernoullis (train --model mixture): its exact NLL
    std::string pixelcnn;    // a Gated PixelCNN over the pixels (train --model pixelcnn): its exact NLL
    // Further VQ-VAE (+ prior) pairs to put in the same table, e.g. the
    // density preset beside the reference; a prior may be "" (none).
    std::vector<std::pair<std::string, std::string>> more_vqvae;
    std::string data_dir = data::kDefaultDataDir;
    int64_t iw_k = 1000;     // importance samples for the VAE
    int64_t limit = 0;       // first N test images (0: all)
    int64_t iw_limit = 0;    // IWAE on the first N of those only (0: all); the costly part
    std::string device = "cpu";
    uint64_t seed = 0;
};

// Returns the docs/design.md JSON object: images, vqvae_recon_nats,
// vqvae_uniform_nats, prior_nats, vqvae_prior_nats, vae_elbo_nats,
// vae_iwae_nats, iw_k (for the models given), for the first VQ-VAE; plus
// codes, codes_used and perplexity, and "vqvae_models": one object per
// VQ-VAE (the first and every more_vqvae) with its label, file and the same keys.
nlohmann::json evaluate_density(const EvalOptions& options);
// The same numbers as a readable table with bits/dim.
std::string format_density_table(const nlohmann::json& result);

double nats_to_bits_per_dim(double nats, int64_t dims = 784);

}  // namespace vq::models
