// What the training loop needs from a model: one interface, one
// implementation per reference model (vqvae_task.cpp, vae_task.cpp,
// prior_task.cpp). The loop itself (trainer.cpp) knows nothing model-specific.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/loader.hpp"
#include "distributed/communicator.hpp"
#include "nn/module.hpp"
#include "tensor/random.hpp"

namespace vq::models {

// Test-set evaluation during training runs in chunks of this many images: no
// larger than a training batch, so it never needs more memory than a step
// (at 500 images the VQ-VAE's code distances alone would take 50 MB).
inline constexpr int64_t kEvalChunk = 128;

using Stats = std::vector<std::pair<std::string, double>>;

struct TrainOptions {
    std::string model = "vqvae";   // vqvae | vae | prior | pixelcnn | mixture
    std::string data_dir = data::kDefaultDataDir;
    std::string out_dir;
    bool overwrite = false;        // replace a run already in out_dir (not saved in config.json)
    std::string init;              // starting weights (model file)
    std::string vqvae;             // the trained VQ-VAE, for the prior
    std::string codebook = "ema";  // ema | grad (VQ-VAE)
    int64_t epochs = 1;
    int64_t steps = 0;             // if > 0, stop after this many steps in total
    int64_t batch = 128;
    double lr = 0;                 // 0: the model's default from docs/design.md
    uint64_t seed = 0;
    std::string device = "cpu";
    int64_t log_every = 50;        // steps between metrics lines
    int64_t save_every = 0;        // steps between extra checkpoints (0: only at epoch ends)
    int64_t eval_limit = 10000;    // test images evaluated at each epoch end
    // The learning rate: "constant", or "cosine" (decay to 0 at the run's
    // last step); either after a linear warm-up over `warmup` steps.
    std::string schedule = "constant";
    int64_t warmup = 0;
    double polyak = 0;             // Polyak averaging's decay (0: off), e.g. 0.999
    int64_t eval_every = 0;        // steps between test NLLs on the first curve_limit images (0: epoch ends only)
    int64_t curve_limit = 1000;
    int64_t threads = 0;           // CPU threads (0: leave the default)
    // Data parallelism: each step's batch is split over the ranks of an MPI
    // job (mpirun -np N) and, within a rank, into micro-batches of this many
    // images (0: none); gradients and EMA statistics are summed over all the
    // parts before one update.
    int64_t micro_batch = 0;
    std::string dist_engine = "auto";  // auto | mpi | nccl (distributed/communicator.hpp)
    int64_t world_size = 1;        // set by train(): the job's ranks (not saved in config.json)
    // Architecture (models/presets.hpp names the tuned configurations)
    std::string preset;            // "" (the reference) or a preset's name
    int64_t codes = 512;           // VQ-VAE codebook size K (the prior takes its VQ-VAE's K)
    int64_t code_dim = 64;         // VQ-VAE code dimension D
    double beta = 0.25;            // VQ-VAE commitment weight
    int64_t prior_channels = 64;   // PixelCNN width
    int64_t prior_layers = 10;     // PixelCNN gated layers
    int64_t pixel_channels = 32;   // the pixel-level PixelCNN's width (--model pixelcnn)
    int64_t pixel_layers = 8;      // and its gated layers
    std::string decoder = "plain"; // VQ-VAE and VAE: plain | pixelcnn (models/ar_decoder.hpp)
    int64_t decoder_layers = 3;    // the autoregressive decoder's masked gated layers
    int64_t decoder_channels = 32; // and their width
    int64_t components = 100;      // mixture of Bernoullis: components (epochs = EM iterations)
    double mixture_alpha = 0.01;   // mixture: pseudo-count keeping mu off 0 and 1
};

class TrainTask {
public:
    virtual ~TrainTask() = default;
    virtual nn::Module& model() = 0;
    virtual double default_lr() const = 0;
    virtual data::BatchSource train_batches(int64_t batch_size, uint64_t seed) = 0;
    // Forward and backward of one part of a step's batch: all of it, or one
    // rank's or micro-batch's share. loss_scale (the part's size over the
    // batch's) makes the part's loss its share of the batch mean, so that the
    // gradients summed over the parts are the batch's. Returns the part's own
    // (unscaled) stats; the first is the loss.
    virtual Stats forward_backward(const Tensor& part, Generator& gen, double loss_scale) = 0;
    // After every part of a step, on every rank: sums what after_step needs
    // over all of them (the VQ-VAE's EMA statistics and restart candidates).
    virtual void reduce_step(distributed::Communicator&) {}
    // Runs after the optimizer step and reduce_step (the VQ-VAE's EMA codebook update).
    virtual void after_step(Generator&) {}
    // Epoch summary (e.g. codes used this epoch); resets the epoch counters.
    virtual Stats end_epoch() { return {}; }
    // Test-set metrics on the first `limit` test images.
    virtual Stats evaluate(int64_t limit) = 0;
    // Epoch images (recon.png for the VQ-VAE and VAE).
    virtual void write_images(const std::string& /*out_dir*/) {}
    // Training state beyond the optimizer (EMA counts and sums).
    virtual nn::StateDict extra_state() const { return {}; }
    virtual void load_extra_state(const nn::StateDict&, const std::string&) {}
};

std::unique_ptr<TrainTask> make_task(const TrainOptions& options, Device device);

// Trains as configured; writes model.safetensors, train_state.safetensors,
// metrics.jsonl, config.json (and images) under out_dir. Returns the process
// exit code (0, or 130 after Ctrl-C saved a checkpoint). Throws on errors.
int train(TrainOptions options, bool resume);

}  // namespace vq::models
