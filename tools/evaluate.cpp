// evaluate: the density table for whatever checkpoints are given.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "io/files.hpp"
#include "models/evaluate.hpp"
#include "nn/safetensors.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Test NLL (nats/image and bits/dim) of VQ-VAE, VQ-VAE + prior and VAE checkpoints"};
    vq::models::EvalOptions o;
    bool as_json = false;
    std::string json_out;
    std::vector<std::string> vqvaes, priors;
    app.add_option("--vqvae", vqvaes, "VQ-VAE model.safetensors (repeat to compare several in one table)");
    app.add_option("--prior", priors, "PixelCNN prior model.safetensors (needs --vqvae; one per --vqvae when repeated)");
    app.add_option("--vae", o.vae, "VAE model.safetensors");
    app.add_option("--mixture", o.mixture, "mixture of Bernoullis model.safetensors (exact NLL)");
    app.add_option("--pixelcnn", o.pixelcnn, "Gated PixelCNN over pixels model.safetensors (exact NLL)");
    app.add_option("--iw", o.iw_k, "importance samples for the VAE's IWAE estimate")->capture_default_str()
        ->check(vq::cli::count_in(1, 10000));
    app.add_option("--data", o.data_dir, "directory of IDX files")->capture_default_str();
    app.add_option("--limit", o.limit, "evaluate the first N test images (0: all)")->capture_default_str()
        ->check(vq::cli::at_least(0));
    app.add_option("--device", o.device, "cpu | cuda")->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the VAE's samples")->capture_default_str();
    app.add_option("--iw-limit", o.iw_limit, "run the IWAE estimate on the first N images only (0: all)")
        ->capture_default_str()->check(vq::cli::at_least(0));
    app.add_flag("--json", as_json, "print one JSON object instead of the table");
    app.add_option("--json-out", json_out, "also write the JSON object to this file");
    CLI11_PARSE(app, argc, argv);
    try {
        if (!priors.empty() && priors.size() != vqvaes.size())
            throw std::invalid_argument(fmt::format("give one --prior per --vqvae (got {} --vqvae and {} --prior)",
                                                    vqvaes.size(), priors.size()));
        for (size_t i = 0; i < vqvaes.size(); ++i) {
            std::string prior = priors.empty() ? "" : priors[i];
            if (i == 0) o.vqvae = vqvaes[i], o.prior = prior;
            else o.more_vqvae.push_back({vqvaes[i], prior});
        }
        if (vqvaes.empty() && !priors.empty()) o.prior = priors[0];
        std::vector<vq::io::NamedPath> inputs = {{"--vae", o.vae}, {"--mixture", o.mixture}, {"--pixelcnn", o.pixelcnn}};
        for (const std::string& f : vqvaes) inputs.push_back({"--vqvae", f});
        for (const std::string& f : priors) inputs.push_back({"--prior", f});
        vq::io::refuse_output_over_input({{"--json-out", json_out}}, inputs);
        nlohmann::json result = vq::models::evaluate_density(o);
        if (!json_out.empty()) vq::io::write_file_atomic(json_out, result.dump(2) + "\n");
        if (as_json) fmt::print("{}\n", result.dump());
        else fmt::print("{}", vq::models::format_density_table(result));
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "evaluate: error: {}\n", e.what());
        return 1;
    }
}
