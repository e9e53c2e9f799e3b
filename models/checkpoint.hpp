// Checkpoint files of a training run (REFERENCE.md): model.safetensors holds
// the model's tensors only, so it stays interchangeable; train_state.safetensors
// beside it holds optimizer moments, EMA state, the seed and the step.
// Both are written atomically (temporary file, fsync, rename).
#pragma once

#include <string>

#include "models/task.hpp"
#include "optim/optimizer.hpp"

namespace vq::models {

// Loads a model file into `model`, checking that it was written for `kind`.
void load_model_file(nn::Module& model, const std::string& path, const std::string& kind);
void save_model_file(const nn::Module& model, const std::string& path, const std::string& kind, int64_t step);

void save_training_checkpoint(const nn::Module& model, const optim::Optimizer& opt, const TrainTask& task,
                              const std::string& model_path, const std::string& state_path, const TrainOptions& o,
                              int64_t step);
// Restores everything and returns the step to continue from.
int64_t load_training_checkpoint(nn::Module& model, optim::Optimizer& opt, TrainTask& task,
                                 const std::string& model_path, const std::string& state_path, const TrainOptions& o);

void save_config(const TrainOptions& o, const std::string& path);
TrainOptions load_config(const std::string& path);

}  // namespace vq::models
