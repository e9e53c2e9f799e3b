#include "models/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include "nn/safetensors.hpp"

namespace vq::models {

using json = nlohmann::json;

void load_model_file(nn::Module& model, const std::string& path, const std::string& kind) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    auto it = f.metadata.find("model");
    if (it != f.metadata.end() && it->second != kind)
        throw std::runtime_error(path + ": this is a '" + it->second + "' checkpoint, expected a '" + kind + "' one");
    model.load_state_dict(f.tensors, path);
}

void save_model_file(const nn::Module& model, const std::string& path, const std::string& kind, int64_t step) {
    nn::save_safetensors(path, model.state_dict(), {{"model", kind}, {"step", std::to_string(step)}});
}

void save_training_checkpoint(const nn::Module& model, const optim::Optimizer& opt, const TrainTask& task,
                              const std::string& model_path, const std::string& state_path, const TrainOptions& o,
                              int64_t step) {
    nn::StateDict state = opt.state_dict();
    for (auto& [k, v] : task.extra_state()) state[k] = v;
    state["progress.step"] = Tensor::full({1}, double(step), DType::I64);
    state["rng.seed"] = Tensor::from_vector(std::vector<int64_t>{int64_t(o.seed)}, {1});
    // state first, model second: both carry the step, and a crash between the
    // two renames is caught on resume by comparing them.
    nn::save_safetensors(state_path, state, {{"model", o.model}, {"step", std::to_string(step)}});
    save_model_file(model, model_path, o.model, step);
}

int64_t load_training_checkpoint(nn::Module& model, optim::Optimizer& opt, TrainTask& task,
                                 const std::string& model_path, const std::string& state_path, const TrainOptions& o) {
    nn::SafetensorsFile m = nn::load_safetensors(model_path);
    nn::SafetensorsFile s = nn::load_safetensors(state_path);
    if (m.metadata["step"] != s.metadata["step"])
        throw std::runtime_error(state_path + ": step " + s.metadata["step"] + " does not match " + model_path +
                                 " (step " + m.metadata["step"] + "); the checkpoint pair is inconsistent");
    if (m.metadata.count("model") && m.metadata["model"] != o.model)
        throw std::runtime_error(model_path + ": this is a '" + m.metadata["model"] + "' checkpoint, expected a '" + o.model + "' one");
    model.load_state_dict(m.tensors, model_path);
    opt.load_state_dict(s.tensors, state_path);
    task.load_extra_state(s.tensors, state_path);
    auto step = s.tensors.find("progress.step");
    if (step == s.tensors.end()) throw std::runtime_error(state_path + ": missing 'progress.step'");
    return int64_t(step->second.item());
}

void save_config(const TrainOptions& o, const std::string& path) {
    json j = {{"model", o.model},       {"data", o.data_dir},     {"out", o.out_dir},
              {"init", o.init},         {"vqvae", o.vqvae},       {"codebook", o.codebook},
              {"epochs", o.epochs},     {"steps", o.steps},       {"batch", o.batch},
              {"lr", o.lr},             {"seed", o.seed},         {"device", o.device},
              {"log_every", o.log_every}, {"save_every", o.save_every}, {"eval_limit", o.eval_limit}};
    nn::write_file_atomic(path, j.dump(2) + "\n");
}

TrainOptions load_config(const std::string& path) {
    json j;
    try {
        j = json::parse(nn::read_file(path));
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
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": incomplete training config (" + e.what() + ")");
    }
    return o;
}

}  // namespace vq::models
