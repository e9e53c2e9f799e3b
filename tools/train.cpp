// train: fits one of the reference models (docs/design.md, tool contract).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "models/checkpoint.hpp"
#include "models/mixture.hpp"
#include "models/presets.hpp"
#include "models/task.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Train a model (vqvae, vae, prior, or the classical mixture of Bernoullis) on binarized Fashion-MNIST"};
    vq::models::TrainOptions o;
    std::string resume;
    app.add_option("--model", o.model, "vqvae | vae | prior | pixelcnn | mixture")
        ->check(CLI::IsMember({"vqvae", "vae", "prior", "pixelcnn", "mixture"}));
    app.add_option("--components", o.components, "mixture: components C (its --epochs are EM iterations)")
        ->capture_default_str()->check(vq::cli::count_in(1, 100000));
    app.add_option("--alpha", o.mixture_alpha, "mixture: pseudo-count of the M step, keeping pixel probabilities off 0 and 1")
        ->capture_default_str()->check(vq::cli::real_in(0, 1e6));
    app.add_option("--data", o.data_dir, "directory of IDX files")->capture_default_str();
    auto* epochs = app.add_option("--epochs", o.epochs, "epochs to train")->capture_default_str()
        ->check(vq::cli::count_in(1, 1000000));
    auto* steps = app.add_option("--steps", o.steps, "stop after this many steps in total (overrides --epochs)")
        ->check(vq::cli::at_least(1));
    app.add_option("--batch", o.batch, "batch size")->capture_default_str()->check(vq::cli::count_in(1, 1 << 20));
    CLI::Option* lr = app.add_option("--lr", o.lr, "learning rate (default: 2e-4 VQ-VAE, 1e-3 VAE and pixel model, 3e-4 prior; a preset may set it)")
        ->check(vq::cli::positive_real());
    app.add_option("--schedule", o.schedule, "learning rate: constant, or cosine (decay to 0 at the last step)")
        ->capture_default_str()->check(CLI::IsMember({"constant", "cosine"}));
    app.add_option("--warmup", o.warmup, "steps of linear learning-rate warm-up")->capture_default_str()
        ->check(vq::cli::at_least(0));
    app.add_option("--polyak", o.polyak, "Polyak averaging: the decay of the weights' moving average, used for "
                   "evaluation and the model file (0: off)")->capture_default_str()->check(vq::cli::real_in(0, 0.999999));
    app.add_option("--eval-every", o.eval_every, "steps between test NLLs on the first --curve-limit images, for the "
                   "learning curve (0: epoch ends only)")->capture_default_str()->check(vq::cli::at_least(0));
    app.add_option("--curve-limit", o.curve_limit, "test images of the learning curve")->capture_default_str()
        ->check(vq::cli::count_in(1, 10000));
    app.add_option("--seed", o.seed, "random seed")->capture_default_str();
    app.add_option("--device", o.device, "cpu | cuda")->capture_default_str();
    app.add_option("--init", o.init, "start from these weights (a model.safetensors)");
    app.add_option("--vqvae", o.vqvae, "the trained VQ-VAE (for --model prior)");
    app.add_option("--codebook", o.codebook, "VQ-VAE codebook: ema (default) or grad")->check(CLI::IsMember({"ema", "grad"}));
    app.add_option("--out", o.out_dir, "output directory (a new one, or one holding no run)");
    app.add_flag("--overwrite", o.overwrite, "replace the run already in --out");
    app.add_option("--resume", resume, "continue the run in this directory from its last checkpoint");
    app.add_option("--log-every", o.log_every, "steps between metrics lines")->capture_default_str()->check(vq::cli::at_least(1));
    app.add_option("--save-every", o.save_every, "steps between extra checkpoints (0: epoch ends only)")->check(vq::cli::at_least(0));
    app.add_option("--eval-limit", o.eval_limit, "test images evaluated each epoch")->capture_default_str()->check(vq::cli::at_least(1));
    app.add_option("--threads", o.threads, "CPU threads (0: all cores, or VQ_NUM_THREADS)")->check(vq::cli::count_in(0, 1024));
    app.add_option("--micro-batch", o.micro_batch,
                   "split each rank's share of --batch into micro-batches of this many images, summing their "
                   "gradients before one update (0: none)")->check(vq::cli::at_least(0));
    app.add_option("--dist-engine", o.dist_engine, "under mpirun: auto (NCCL for CUDA where built), mpi, nccl")
        ->capture_default_str()->check(CLI::IsMember({"auto", "mpi", "nccl"}));
    app.add_option("--preset", o.preset, "named configuration: reference or density (flags given explicitly win)");
    std::vector<CLI::Option*> arch = {
        app.add_option("--codes", o.codes, "VQ-VAE codebook size K, 2..4096 (the prior takes its VQ-VAE's K)")
            ->capture_default_str()->check(vq::cli::count_in(2, vq::models::kMaxCodes)),
        app.add_option("--code-dim", o.code_dim, "VQ-VAE code dimension D")->capture_default_str()->check(vq::cli::count_in(1, 1024)),
        app.add_option("--beta", o.beta, "VQ-VAE commitment weight")->capture_default_str()->check(vq::cli::real_in(0, 1e6)),
        app.add_option("--prior-channels", o.prior_channels, "PixelCNN prior width")->capture_default_str()->check(vq::cli::count_in(1, 4096)),
        app.add_option("--prior-layers", o.prior_layers, "PixelCNN prior gated layers")->capture_default_str()->check(vq::cli::count_in(1, 64)),
        app.add_option("--pixel-channels", o.pixel_channels, "pixel-level PixelCNN width (--model pixelcnn)")->capture_default_str()
            ->check(vq::cli::count_in(1, 1024)),
        app.add_option("--pixel-layers", o.pixel_layers, "pixel-level PixelCNN gated layers")->capture_default_str()
            ->check(vq::cli::count_in(1, 64)),
        app.add_option("--decoder", o.decoder, "VQ-VAE and VAE decoder: plain (independent pixels) or pixelcnn (masked "
                       "gated layers over the pixels, as in PixelVAE)")->capture_default_str()
            ->check(CLI::IsMember({"plain", "pixelcnn"})),
        app.add_option("--decoder-layers", o.decoder_layers, "--decoder pixelcnn: masked gated layers")->capture_default_str()
            ->check(vq::cli::count_in(1, vq::models::kMaxDecoderLayers)),
        app.add_option("--decoder-channels", o.decoder_channels, "--decoder pixelcnn: their width")->capture_default_str()
            ->check(vq::cli::count_in(1, vq::models::kMaxDecoderChannels)),
    };
    CLI11_PARSE(app, argc, argv);
    try {
        std::set<std::string> given;
        for (CLI::Option* opt : arch)
            if (opt->count() > 0) given.insert(opt->get_name());
        if (lr->count() > 0) given.insert("--lr");
        if (!resume.empty()) {
            // a resumed run continues exactly as configured; only how long and where it runs may change
            std::vector<std::string> conflicting =
                vq::cli::given_except(app, {"--resume", "--epochs", "--steps", "--threads", "--dist-engine"});
            if (!conflicting.empty()) {
                std::string names;
                for (const std::string& n : conflicting) names += (names.empty() ? "" : ", ") + n;
                throw std::invalid_argument("--resume " + resume + " continues that run as it was configured, so " + names +
                                            " cannot be given with it (only --epochs, --steps, --threads and "
                                            "--dist-engine can); to train something else, start a new run with --out");
            }
            vq::models::TrainOptions saved = vq::models::load_config(resume + "/config.json");
            if (!epochs->empty()) saved.epochs = o.epochs;
            if (!steps->empty()) saved.steps = o.steps;
            saved.out_dir = resume;
            if (saved.model == "mixture") throw std::invalid_argument("--resume: EM runs are not resumable; start again (each iteration takes seconds)");
            saved.threads = o.threads;
            if (o.dist_engine != "auto") saved.dist_engine = o.dist_engine;
            return vq::models::train(saved, true);
        }
        if (o.out_dir.empty()) throw std::invalid_argument("--out is required (or --resume DIR)");
        if (o.model == "prior" && o.vqvae.empty()) throw std::invalid_argument("--model prior needs --vqvae FILE (a trained VQ-VAE)");
        if (o.model == "prior" && given.count("--codes"))
            throw std::invalid_argument("--codes is the VQ-VAE's: the prior takes K from --vqvae");
        const bool has_decoder = o.model == "vqvae" || o.model == "vae";
        for (const char* flag : {"--decoder", "--decoder-layers", "--decoder-channels"})
            if (given.count(flag) && !has_decoder)
                throw std::invalid_argument(std::string(flag) + " is for --model vqvae or vae (the decoder's last stage), not --model " + o.model);
        if ((given.count("--decoder-layers") || given.count("--decoder-channels")) && o.decoder != "pixelcnn")
            throw std::invalid_argument("--decoder-layers and --decoder-channels shape the autoregressive decoder: give --decoder pixelcnn with them");
        if (o.model == "mixture") return vq::models::train_mixture(o);
        vq::models::apply_preset(o, given);
        return vq::models::train(o, false);
    } catch (const std::exception& e) {
        fmt::print(stderr, "\ntrain: error: {}\n", e.what());
        vq::distributed::abort_job_if_distributed(1);  // under mpirun: end every rank, never leave one waiting
        return 1;
    }
}
