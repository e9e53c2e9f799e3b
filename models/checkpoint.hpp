// Checkpoint files of a training run (docs/design.md): model.safetensors holds
// the model's tensors only, so it stays interchangeable; train_state.safetensors
// beside it holds optimizer moments, EMA state, the seed and the step.
// Both are written atomically (temporary file, fsync, rename).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/mixture.hpp"
#include "models/pixelcnn.hpp"
#include "models/task.hpp"
#include "models/vae.hpp"
#include "models/vqvae.hpp"
#include "nn/safetensors.hpp"
#include "optim/optimizer.hpp"
#include "optim/weight_average.hpp"

namespace vq::models {

// Loads a model file into `model`, checking that it was written for `kind`.
void load_model_file(nn::Module& model, const std::string& path, const std::string& kind);
// `metadata` goes into the file's __metadata__ beside "model" and "step"
// (e.g. the preset a VQ-VAE was trained with, which its prior follows).
void save_model_file(const nn::Module& model, const std::string& path, const std::string& kind, int64_t step,
                     const std::map<std::string, std::string>& metadata = {});

// The architecture a model file holds, read from its tensors' shapes, so a
// file of any codebook size or prior width loads without extra flags:
// K and D from quantizer.codebook [K, D]; the prior's K and width from
// embedding.weight [K, C] and its depth from the layers.{i} it holds.
VQVAEConfig vqvae_config_of(const nn::SafetensorsFile& file, const std::string& path);
PixelCNNConfig prior_config_of(const nn::SafetensorsFile& file, const std::string& path);
// The decoder a VQ-VAE or VAE file holds: autoregressive when it has
// decoder.head.* tensors, its width and depth from their shapes.
DecoderConfig decoder_config_of(const nn::SafetensorsFile& file, const std::string& path);
// Whether the caller can use a file with the autoregressive decoder; a
// PlainOnly caller (`user`, e.g. "repair") refuses one, naming the file.
enum class Decoders { Any, PlainOnly };
// Reads a model file, builds the model it describes and loads it onto `device`.
std::unique_ptr<VQVAE> load_vqvae(const std::string& path, Device device, Decoders accepted = Decoders::Any,
                                  const std::string& user = "");
std::unique_ptr<VAE> load_vae(const std::string& path, Device device, Decoders accepted = Decoders::Any,
                              const std::string& user = "");
std::unique_ptr<GatedPixelCNN> load_prior(const std::string& path, Device device);
// The Gated PixelCNN over the binary pixels (train --model pixelcnn): 2 symbols.
std::unique_ptr<GatedPixelCNN> load_pixelcnn(const std::string& path, Device device);
// A mixture of Bernoullis (C and the pixel count from `probs`); *iterations
// gets the EM iterations it was trained for (its step).
std::unique_ptr<BernoulliMixture> load_mixture(const std::string& path, int64_t* iterations = nullptr);
// A prior models the codes of one codebook size: refuses a VQ-VAE of another K,
// naming both files and both K.
void check_prior_matches(const GatedPixelCNN& prior, const std::string& prior_path, const VQVAE& vqvae,
                         const std::string& vqvae_path);

// Where a run stands: steps taken and the wall seconds they took (training
// only, not evaluation or checkpoints).
struct TrainingProgress {
    int64_t step = 0;
    double seconds = 0;
};

// `average` (may be null): with Polyak averaging, the model file gets the
// averaged weights and the train state the raw ones.
void save_training_checkpoint(const nn::Module& model, const optim::Optimizer& opt, const TrainTask& task,
                              optim::WeightAverage* average, const std::string& model_path, const std::string& state_path,
                              const TrainOptions& o, TrainingProgress progress);
// Restores everything and returns where the run stands.
TrainingProgress load_training_checkpoint(nn::Module& model, optim::Optimizer& opt, TrainTask& task,
                                          optim::WeightAverage* average, const std::string& model_path,
                                          const std::string& state_path, const TrainOptions& o);

// The files a training run writes in its folder.
const std::vector<std::string>& run_files();
// Makes o.out_dir ready for a new run: refuses a folder that already holds a
// run (naming its kind) unless o.overwrite, creates it, and with overwrite
// removes the old run's files so that none is left beside the new ones.
void prepare_run_directory(const TrainOptions& o);

void save_config(const TrainOptions& o, const std::string& path);
TrainOptions load_config(const std::string& path);

}  // namespace vq::models
