// The training loop shared by every model: batches, optimizer, progress,
// metrics, atomic checkpoints, resume and Ctrl-C handling.
#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/checkpoint.hpp"
#include "models/presets.hpp"
#include "models/progress.hpp"
#include "models/task.hpp"
#include "optim/optimizer.hpp"
#include "nn/safetensors.hpp"
#include "tensor/blas.hpp"

namespace vq::models {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct InterruptScope {
    using Handler = void (*)(int);
    Handler old_int, old_term;
    InterruptScope() {
        g_interrupted = false;
        old_int = std::signal(SIGINT, on_interrupt);
        old_term = std::signal(SIGTERM, on_interrupt);
    }
    ~InterruptScope() {
        std::signal(SIGINT, old_int);
        std::signal(SIGTERM, old_term);
    }
};

json stats_json(const Stats& s) {
    json j = json::object();
    for (auto& [k, v] : s) j[k] = std::isfinite(v) ? json(v) : json(nullptr);
    return j;
}

// metrics.jsonl is append-only; after a resume, lines past the checkpoint's
// step are dropped so the file reads as one uninterrupted run.
void truncate_metrics(const std::string& path, int64_t step) {
    std::ifstream in(path);
    if (!in) return;
    std::string line, kept;
    while (std::getline(in, line)) {
        try {
            json j = json::parse(line);
            if (j.value("step", int64_t(0)) > step) continue;
        } catch (const json::exception&) {
            continue;  // a torn last line from a crash
        }
        kept += line + "\n";
    }
    nn::write_file_atomic(path, kept);
}

class MetricsLog {
public:
    explicit MetricsLog(const std::string& path) : out_(path, std::ios::app) {
        if (!out_) throw std::runtime_error(path + ": cannot write");
    }
    void write(json j) {
        out_ << j.dump() << "\n";
        out_.flush();
    }

private:
    std::ofstream out_;
};

}  // namespace

int train(TrainOptions o, bool resume) {
    if (o.out_dir.empty()) throw std::invalid_argument("--out: an output directory is required");
    if (o.batch <= 0) throw std::invalid_argument("--batch must be positive, got " + std::to_string(o.batch));
    if (o.epochs <= 0 && o.steps <= 0) throw std::invalid_argument("--epochs must be positive, got " + std::to_string(o.epochs));
    if (o.steps < 0) throw std::invalid_argument("--steps must not be negative, got " + std::to_string(o.steps));
    if (o.lr < 0) throw std::invalid_argument("--lr must be positive, got " + fmt::format("{}", o.lr));
    if (o.threads > 0) blas::set_threads(int(o.threads));
    Device device = Device::parse(o.device);

    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec || !fs::is_directory(o.out_dir))
        throw std::runtime_error(o.out_dir + ": cannot create the output directory (" + ec.message() + ")");

    std::unique_ptr<TrainTask> task = make_task(o, device);
    if (o.lr == 0) o.lr = task->default_lr();
    nn::Module& model = task->model();
    if (!o.init.empty() && !resume) load_model_file(model, o.init, o.model);
    model.to(device);

    optim::AdamConfig adam;
    adam.lr = o.lr;
    optim::Adam opt(model.named_parameters(), adam);

    const std::string model_path = o.out_dir + "/model.safetensors";
    const std::string state_path = o.out_dir + "/train_state.safetensors";
    const std::string metrics_path = o.out_dir + "/metrics.jsonl";
    int64_t step = 0;
    if (resume) {
        step = load_training_checkpoint(model, opt, *task, model_path, state_path, o);
        truncate_metrics(metrics_path, step);
    } else {
        save_config(o, o.out_dir + "/config.json");  // also proves --out is writable before any work
        nn::write_file_atomic(metrics_path, "");
    }

    data::BatchSource source = task->train_batches(o.batch, o.seed);
    const int64_t per_epoch = source.batches_per_epoch;
    const int64_t total = o.steps > 0 ? o.steps : o.epochs * per_epoch;
    data::Prefetcher batches(source);
    batches.seek(step / per_epoch, step % per_epoch);

    MetricsLog metrics(metrics_path);
    InterruptScope interrupts;
    auto checkpoint = [&] { save_training_checkpoint(model, opt, *task, model_path, state_path, o, step); };

    fmt::print(stderr, "training {} on {} ({} parameters), {} steps of batch {} ({} per epoch), lr {}\n", o.model,
               device.str(), model.parameter_count(), total, o.batch, per_epoch, o.lr);
    if (std::string arch = describe_architecture(o); !arch.empty()) fmt::print(stderr, "architecture: {}\n", arch);
    ProgressBar bar(fmt::format("{} epoch {}", o.model, step / per_epoch + 1), total, step);
    Stats running;
    int64_t running_n = 0;
    while (step < total) {
        Tensor batch = batches.next().to(device);
        Generator gen(data::mix_seed(o.seed ^ 0x5EEDull, uint64_t(step)));
        opt.zero_grad();
        Stats s = task->forward_backward(batch, gen);
        if (!std::isfinite(s.front().second)) {
            bar.finish();
            double v = s.front().second;
            throw std::runtime_error(fmt::format("non-finite loss ({}) at step {}: training stopped; the last good "
                                                 "checkpoint in {} is kept", std::isnan(v) ? "NaN" : fmt::format("{}", v),
                                                 step + 1, o.out_dir));
        }
        opt.step();
        task->after_step(gen);
        ++step;
        if (running.empty()) running = s;
        else for (size_t i = 0; i < s.size(); ++i) running[i].second += s[i].second;
        ++running_n;
        bar.update(step, batch.size(0), {s[0]});

        bool epoch_end = step % per_epoch == 0 || step == total;
        if (step % o.log_every == 0 || epoch_end) {
            json j = {{"step", step}, {"epoch", double(step) / double(per_epoch)}, {"images_per_s", bar.items_per_second()}};
            for (auto& [k, v] : running) j[k] = v / double(running_n);
            metrics.write(j);
            running.clear();
            running_n = 0;
        }
        if (epoch_end) {
            bar.finish();
            Stats epoch_stats = task->end_epoch();
            Stats test = task->evaluate(o.eval_limit);
            json j = {{"step", step}, {"epoch_end", (step + per_epoch - 1) / per_epoch}};
            j.update(stats_json(epoch_stats));
            for (auto& [k, v] : test) j["test_" + k] = v;
            metrics.write(j);
            std::string summary;
            for (auto& [k, v] : epoch_stats) summary += fmt::format(" {} {:.4g}", k, v);
            for (auto& [k, v] : test) summary += fmt::format(" test_{} {:.4g}", k, v);
            fmt::print(stderr, "epoch {} done:{}\n", j["epoch_end"].get<int64_t>(), summary);
            checkpoint();
            task->write_images(o.out_dir);
            if (step < total) bar = ProgressBar(fmt::format("{} epoch {}", o.model, step / per_epoch + 1), total, step);
        } else if (o.save_every > 0 && step % o.save_every == 0) {
            checkpoint();
        }
        if (g_interrupted) {
            bar.finish();
            checkpoint();
            fmt::print(stderr, "interrupted at step {}: checkpoint saved in {}; continue with --resume {}\n", step,
                       o.out_dir, o.out_dir);
            return 130;
        }
    }
    fmt::print(stderr, "done: {} and {}\n", model_path, metrics_path);
    return 0;
}

}  // namespace vq::models
