// Named training configurations. The reference (no preset) is docs/design.md's
// architecture; `density` is the VQ-VAE configuration with the lowest
// VQ-VAE + prior bound found by the rate-distortion study (README), and the
// prior settings that go with it.
//
// A preset sets the architecture fields of TrainOptions. Flags given
// explicitly on the command line win over it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "models/task.hpp"

namespace vq::models {

struct Preset {
    std::string name, summary;
    int64_t codes, code_dim;
    double beta;
    double vqvae_lr;  // 0: the model's default (2e-4)
    int64_t prior_channels, prior_layers;
};

const std::vector<Preset>& presets();
// Throws std::invalid_argument listing the known names.
const Preset& find_preset(const std::string& name);

// Applies o.preset to every architecture field whose flag (as on the command
// line, e.g. "--codes") is not in `given`. For the prior,
// an empty o.preset is first taken from the VQ-VAE file's "preset" metadata,
// so a prior trained on a density VQ-VAE gets the density prior settings;
// o.codes becomes that file's K.
void apply_preset(TrainOptions& o, const std::set<std::string>& given);

// One line naming the architecture, for the training log.
std::string describe_architecture(const TrainOptions& o);

}  // namespace vq::models
