#include "models/presets.hpp"

#include <fmt/format.h>

#include "models/checkpoint.hpp"
#include "nn/safetensors.hpp"

namespace vq::models {

const std::vector<Preset>& presets() {
    // The figures behind `density` are in README.md (rate-distortion study)
    // and docs/results/rd-*/rd.json.
    static const std::vector<Preset> all = {
        {"reference", "docs/design.md: K = 512, D = 64, beta = 0.25, prior 64 channels x 10 layers", 512, 64, 0.25, 0, 64, 10},
        {"density", "the lowest VQ-VAE + prior bound of the study: K = 4, VQ-VAE lr 5e-4, prior 64 channels x 10 layers",
         4, 64, 0.25, 5e-4, 64, 10},
    };
    return all;
}

const Preset& find_preset(const std::string& name) {
    std::string known;
    for (const Preset& p : presets()) {
        if (p.name == name) return p;
        known += (known.empty() ? "" : ", ") + p.name;
    }
    throw std::invalid_argument("--preset: unknown preset '" + name + "' (known: " + known + ")");
}

void apply_preset(TrainOptions& o, const std::set<std::string>& given) {
    if (o.model == "prior" && !o.vqvae.empty()) {
        nn::SafetensorsFile f = nn::load_safetensors(o.vqvae);
        o.codes = vqvae_config_of(f, o.vqvae).num_codes;  // recorded in config.json; the prior follows it
        auto it = f.metadata.find("preset");
        if (o.preset.empty() && it != f.metadata.end()) o.preset = it->second;
    }
    if (o.preset.empty()) return;
    const Preset& p = find_preset(o.preset);
    auto set = [&](const char* flag, auto& field, auto value) {
        if (!given.count(flag)) field = value;
    };
    set("--codes", o.codes, p.codes);
    set("--code-dim", o.code_dim, p.code_dim);
    set("--beta", o.beta, p.beta);
    if (o.model == "vqvae" && p.vqvae_lr > 0) set("--lr", o.lr, p.vqvae_lr);
    set("--prior-channels", o.prior_channels, p.prior_channels);
    set("--prior-layers", o.prior_layers, p.prior_layers);
}

std::string describe_architecture(const TrainOptions& o) {
    std::string preset = o.preset.empty() ? "" : fmt::format("preset {}: ", o.preset);
    if (o.model == "vqvae")
        return fmt::format("{}K = {} codes of D = {}, beta = {}{}", preset, o.codes, o.code_dim, o.beta,
                           o.lr > 0 ? fmt::format(", lr {}", o.lr) : "");
    if (o.model == "prior")
        return fmt::format("{}K = {} codes, {} channels x {} layers", preset, o.codes, o.prior_channels, o.prior_layers);
    return "";
}

}  // namespace vq::models
