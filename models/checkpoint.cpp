#include "models/checkpoint.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/files.hpp"
#include "nn/safetensors.hpp"

namespace vq::models {

using json = nlohmann::json;

namespace {

const Tensor& tensor_of(const nn::SafetensorsFile& f, const std::string& path, const std::string& name, int64_t dims) {
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) throw std::runtime_error(path + ": missing tensor '" + name + "'");
    if (it->second.dim() != dims)
        throw std::runtime_error(path + ": '" + name + "' has shape " + it->second.shape_str() + ", expected " +
                                 std::to_string(dims) + " dimensions");
    return it->second;
}

// How many gated layers a file holds under `prefix` ("" for a PixelCNN,
// "decoder.head." for the autoregressive decoder): {prefix}layers.{i}.vert.weight
int64_t gated_layers_in(const nn::SafetensorsFile& f, const std::string& prefix) {
    int64_t n = 0;
    while (f.tensors.count(prefix + "layers." + std::to_string(n) + ".vert.weight")) ++n;
    return n;
}

void check_kind(const nn::SafetensorsFile& f, const std::string& path, const std::string& kind) {
    auto it = f.metadata.find("model");
    if (it != f.metadata.end() && it->second != kind)
        throw std::runtime_error(path + ": this is a '" + it->second + "' checkpoint, expected a '" + kind + "' one");
}

}  // namespace

void load_model_file(nn::Module& model, const std::string& path, const std::string& kind) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, kind);
    model.load_state_dict(f.tensors, path);
}

void save_model_file(const nn::Module& model, const std::string& path, const std::string& kind, int64_t step,
                     const std::map<std::string, std::string>& metadata) {
    std::map<std::string, std::string> meta = metadata;
    meta["model"] = kind;
    meta["step"] = std::to_string(step);
    nn::save_safetensors(path, model.state_dict(), meta);
}

VQVAEConfig vqvae_config_of(const nn::SafetensorsFile& f, const std::string& path) {
    const Tensor& e = tensor_of(f, path, "quantizer.codebook", 2);
    VQVAEConfig c;
    c.num_codes = e.size(0);
    c.code_dim = e.size(1);
    if (c.num_codes < 2 || c.num_codes > kMaxCodes)
        throw std::runtime_error(path + ": quantizer.codebook has " + std::to_string(c.num_codes) + " codes, expected 2.." +
                                 std::to_string(kMaxCodes));
    c.decoder = decoder_config_of(f, path);
    return c;
}

DecoderConfig decoder_config_of(const nn::SafetensorsFile& f, const std::string& path) {
    DecoderConfig c;
    if (!f.tensors.count("decoder.head.input.weight")) return c;  // the plain decoder
    c.autoregressive = true;
    c.channels = tensor_of(f, path, "decoder.head.input.weight", 4).size(0);
    c.layers = gated_layers_in(f, "decoder.head.");
    try {
        return check_config(c);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

namespace {
// A PlainOnly caller refuses the autoregressive decoder, naming the file.
void require_plain_decoder(const DecoderConfig& decoder, const std::string& path, const std::string& user) {
    if (decoder.autoregressive)
        throw std::runtime_error(path + ": a model with the autoregressive decoder (--decoder pixelcnn) is not supported by " +
                                 user + " yet; use a model trained with the plain decoder");
}
}  // namespace

std::unique_ptr<VAE> load_vae(const std::string& path, Device device, Decoders accepted, const std::string& user) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, "vae");
    DecoderConfig decoder = decoder_config_of(f, path);
    if (accepted == Decoders::PlainOnly) require_plain_decoder(decoder, path, user);
    Generator init(0);  // the weights are replaced by the file's
    auto m = std::make_unique<VAE>(init, decoder);
    m->load_state_dict(f.tensors, path);
    m->to(device);
    return m;
}

PixelCNNConfig prior_config_of(const nn::SafetensorsFile& f, const std::string& path) {
    const Tensor& emb = tensor_of(f, path, "embedding.weight", 2);
    PixelCNNConfig c;
    c.num_codes = emb.size(0);
    c.channels = emb.size(1);
    c.layers = gated_layers_in(f, "");
    if (c.layers == 0) throw std::runtime_error(path + ": missing tensor 'layers.0.vert.weight'");
    return c;
}

std::unique_ptr<BernoulliMixture> load_mixture(const std::string& path, int64_t* iterations) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, "mixture");
    const Tensor& probs = tensor_of(f, path, "probs", 2);
    auto m = std::make_unique<BernoulliMixture>(probs.size(0), probs.size(1));
    m->load_state_dict(f.tensors, path);
    if (iterations) *iterations = f.metadata.count("step") ? std::stoll(f.metadata["step"]) : 0;
    return m;
}

std::unique_ptr<VQVAE> load_vqvae(const std::string& path, Device device, Decoders accepted, const std::string& user) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, "vqvae");
    VQVAEConfig c = vqvae_config_of(f, path);
    if (accepted == Decoders::PlainOnly) require_plain_decoder(c.decoder, path, user);
    Generator init(0);  // the weights are replaced by the file's
    auto m = std::make_unique<VQVAE>(init, c);
    m->load_state_dict(f.tensors, path);
    m->to(device);
    return m;
}

std::unique_ptr<GatedPixelCNN> load_pixelcnn(const std::string& path, Device device) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, "pixelcnn");
    Generator init(0);
    PixelCNNConfig c = prior_config_of(f, path);
    if (c.num_codes != 2)
        throw std::runtime_error(fmt::format("{}: a pixel PixelCNN has 2 symbols, this file's embedding has {}", path, c.num_codes));
    auto m = std::make_unique<GatedPixelCNN>(init, c);
    m->load_state_dict(f.tensors, path);
    m->to(device);
    return m;
}

std::unique_ptr<GatedPixelCNN> load_prior(const std::string& path, Device device) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    check_kind(f, path, "prior");
    Generator init(0);
    auto m = std::make_unique<GatedPixelCNN>(init, prior_config_of(f, path));
    m->load_state_dict(f.tensors, path);
    m->to(device);
    return m;
}

void check_prior_matches(const GatedPixelCNN& prior, const std::string& prior_path, const VQVAE& vqvae,
                         const std::string& vqvae_path) {
    if (prior.config.num_codes != vqvae.config.num_codes)
        throw std::runtime_error(prior_path + ": this prior models K = " + std::to_string(prior.config.num_codes) +
                                 " codes, but the VQ-VAE " + vqvae_path + " has K = " +
                                 std::to_string(vqvae.config.num_codes) + "; train a prior on this VQ-VAE's codes");
}

void save_training_checkpoint(const nn::Module& model, const optim::Optimizer& opt, const TrainTask& task,
                              optim::WeightAverage* average, const std::string& model_path, const std::string& state_path,
                              const TrainOptions& o, TrainingProgress progress) {
    const int64_t step = progress.step;
    // with Polyak averaging the model file holds the average and the state the raw weights
    std::unique_ptr<optim::WeightAverage::AveragedScope> averaged;
    if (average) averaged = std::make_unique<optim::WeightAverage::AveragedScope>(*average);
    nn::StateDict state = opt.state_dict();
    for (auto& [k, v] : task.extra_state()) state[k] = v;
    if (average)
        for (auto& [k, v] : average->raw_state()) state[k] = v;
    state["progress.step"] = Tensor::full({1}, double(step), DType::I64);
    state["progress.seconds"] = Tensor::full({1}, progress.seconds, DType::F64);
    state["rng.seed"] = Tensor::from_vector(std::vector<int64_t>{int64_t(o.seed)}, {1});
    state["dist.world_size"] = Tensor::from_vector(std::vector<int64_t>{o.world_size}, {1});
    // state first, model second: both carry the step, and a crash between the
    // two renames is caught on resume by comparing them.
    nn::save_safetensors(state_path, state, {{"model", o.model}, {"step", std::to_string(step)}});
    std::map<std::string, std::string> meta;
    if (!o.preset.empty()) meta["preset"] = o.preset;
    save_model_file(model, model_path, o.model, step, meta);
}

TrainingProgress load_training_checkpoint(nn::Module& model, optim::Optimizer& opt, TrainTask& task,
                                          optim::WeightAverage* average, const std::string& model_path,
                                          const std::string& state_path, const TrainOptions& o) {
    nn::SafetensorsFile m = nn::load_safetensors(model_path);
    nn::SafetensorsFile s = nn::load_safetensors(state_path);
    if (m.metadata["step"] != s.metadata["step"])
        throw std::runtime_error(state_path + ": step " + s.metadata["step"] + " does not match " + model_path +
                                 " (step " + m.metadata["step"] + "); the checkpoint pair is inconsistent");
    if (m.metadata.count("model") && m.metadata["model"] != o.model)
        throw std::runtime_error(model_path + ": this is a '" + m.metadata["model"] + "' checkpoint, expected a '" + o.model + "' one");
    if (auto w = s.tensors.find("dist.world_size"); w != s.tensors.end() && int64_t(w->second.item()) != o.world_size)
        throw std::runtime_error(fmt::format("{}: this run was trained on {} rank(s) and is resumed on {}: resume it "
                                             "with the same number (mpirun -np {})", state_path, int64_t(w->second.item()),
                                             o.world_size, int64_t(w->second.item())));
    model.load_state_dict(m.tensors, model_path);
    opt.load_state_dict(s.tensors, state_path);
    task.load_extra_state(s.tensors, state_path);
    if (average) average->restore(s.tensors, state_path);
    auto step = s.tensors.find("progress.step");
    if (step == s.tensors.end()) throw std::runtime_error(state_path + ": missing 'progress.step'");
    auto seconds = s.tensors.find("progress.seconds");  // absent from runs before it was recorded
    return {int64_t(step->second.item()), seconds == s.tensors.end() ? 0.0 : seconds->second.item()};
}

const std::vector<std::string>& run_files() {
    static const std::vector<std::string> files = {"config.json", "model.safetensors", "train_state.safetensors",
                                                   "metrics.jsonl", "recon.png", "samples.png", "curves.png"};
    return files;
}

void prepare_run_directory(const TrainOptions& o) {
    namespace fs = std::filesystem;
    std::vector<std::string> found;
    for (const std::string& f : run_files())
        if (fs::exists(o.out_dir + "/" + f)) found.push_back(f);
    if (!found.empty() && !o.overwrite) {
        std::string what = o.out_dir + "/" + found.front();
        if (fs::exists(o.out_dir + "/config.json")) {
            try {
                what = fmt::format("a '{}' run", load_config(o.out_dir + "/config.json").model);
            } catch (const std::exception&) {
            }
        }
        throw std::invalid_argument(fmt::format("--out {} already holds {}: continue it with --resume {}, train into "
                                                "another folder, or pass --overwrite to replace it",
                                                o.out_dir, what, o.out_dir));
    }
    for (const std::string& f : found)  // the new run's inputs may not be among the files it replaces
        io::refuse_output_over_input({{"--out", o.out_dir + "/" + f}}, {{"--init", o.init}, {"--vqvae", o.vqvae}});
    io::make_output_directory(o.out_dir, "--out");
    // --overwrite: nothing of the old run may survive beside the new one
    for (const std::string& f : found) fs::remove(o.out_dir + "/" + f);
}

void save_config(const TrainOptions& o, const std::string& path) {
    json j = {{"model", o.model},       {"data", o.data_dir},     {"out", o.out_dir},
              {"init", o.init},         {"vqvae", o.vqvae},       {"codebook", o.codebook},
              {"epochs", o.epochs},     {"steps", o.steps},       {"batch", o.batch},
              {"lr", o.lr},             {"seed", o.seed},         {"device", o.device},
              {"log_every", o.log_every}, {"save_every", o.save_every}, {"eval_limit", o.eval_limit},
              {"preset", o.preset},     {"codes", o.codes},       {"code_dim", o.code_dim},
              {"beta", o.beta},         {"prior_channels", o.prior_channels}, {"prior_layers", o.prior_layers},
              {"micro_batch", o.micro_batch}, {"dist_engine", o.dist_engine},
              {"components", o.components}, {"mixture_alpha", o.mixture_alpha},
              {"pixel_channels", o.pixel_channels}, {"pixel_layers", o.pixel_layers},
              {"schedule", o.schedule}, {"warmup", o.warmup}, {"polyak", o.polyak},
              {"eval_every", o.eval_every}, {"curve_limit", o.curve_limit},
              {"decoder", o.decoder}, {"decoder_layers", o.decoder_layers}, {"decoder_channels", o.decoder_channels}};
    io::write_file_atomic(path, j.dump(2) + "\n");
}

TrainOptions load_config(const std::string& path) {
    json j;
    try {
        j = json::parse(io::read_file(path));
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
    }
    TrainOptions o;
    try {
        o.model = j.at("model");
        o.data_dir = j.at("data");
        o.out_dir = j.at("out");
        o.init = j.at("init");
        o.vqvae = j.at("vqvae");
        o.codebook = j.at("codebook");
        o.epochs = j.at("epochs");
        o.steps = j.at("steps");
        o.batch = j.at("batch");
        o.lr = j.at("lr");
        o.seed = j.at("seed");
        o.device = j.at("device");
        o.log_every = j.at("log_every");
        o.save_every = j.at("save_every");
        o.eval_limit = j.at("eval_limit");
        // absent from configs written before these were parameters: the reference values
        o.preset = j.value("preset", o.preset);
        o.codes = j.value("codes", o.codes);
        o.code_dim = j.value("code_dim", o.code_dim);
        o.beta = j.value("beta", o.beta);
        o.prior_channels = j.value("prior_channels", o.prior_channels);
        o.prior_layers = j.value("prior_layers", o.prior_layers);
        o.micro_batch = j.value("micro_batch", o.micro_batch);
        o.dist_engine = j.value("dist_engine", o.dist_engine);
        o.components = j.value("components", o.components);
        o.mixture_alpha = j.value("mixture_alpha", o.mixture_alpha);
        o.pixel_channels = j.value("pixel_channels", o.pixel_channels);
        o.pixel_layers = j.value("pixel_layers", o.pixel_layers);
        // runs from before the schedule and the averaging trained without them
        o.schedule = j.value("schedule", std::string("constant"));
        o.warmup = j.value("warmup", int64_t(0));
        o.polyak = j.value("polyak", 0.0);
        o.eval_every = j.value("eval_every", int64_t(0));
        o.curve_limit = j.value("curve_limit", o.curve_limit);
        o.decoder = j.value("decoder", o.decoder);
        o.decoder_layers = j.value("decoder_layers", o.decoder_layers);
        o.decoder_channels = j.value("decoder_channels", o.decoder_channels);
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": incomplete training config (" + e.what() + ")");
    }
    return o;
}

}  // namespace vq::models
