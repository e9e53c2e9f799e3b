// The training loop shared by every model: batches, optimizer, progress,
// metrics, atomic checkpoints, resume and Ctrl-C handling.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/files.hpp"
#include "io/hash.hpp"
#include "models/checkpoint.hpp"
#include "models/presets.hpp"
#include "models/progress.hpp"
#include "models/task.hpp"
#include "nn/safetensors.hpp"
#include "optim/optimizer.hpp"
#include "tensor/blas.hpp"

namespace vq::models {

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
    io::write_file_atomic(path, kept);
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

// How a step's batch is cut: `parts` pieces in all, `chunks` of them on each
// rank (rank r holds parts r*chunks .. r*chunks + chunks - 1). Part p of a
// batch of b images is [p*b/parts, (p+1)*b/parts): N ranks of one chunk and
// one process of N micro-batches see the same parts.
//
// An epoch's last batch may be short. When it holds fewer images than there
// are parts, some part would be empty, so that batch is dropped: its few
// images (fewer than the parts) wait for the next epoch's shuffle. The rule
// depends only on the data size, the batch and the part count, so N ranks
// and N micro-batches still drop the same batch and write the same files.
struct StepSplit {
    int rank = 0, world = 1;
    int64_t chunks = 1, parts = 1;
};

StepSplit plan_split(const TrainOptions& o, const distributed::Communicator& comm) {
    StepSplit s{comm.rank(), comm.world_size(), 1, 1};
    if (o.batch % s.world != 0)
        throw std::invalid_argument(fmt::format("--batch {} does not split evenly over {} ranks: use a multiple of {}",
                                                o.batch, s.world, s.world));
    const int64_t per_rank = o.batch / s.world;
    if (o.micro_batch < 0) throw std::invalid_argument(fmt::format("--micro-batch must be positive, got {}", o.micro_batch));
    if (o.micro_batch > 0) {
        if (per_rank % o.micro_batch != 0)
            throw std::invalid_argument(fmt::format("--micro-batch {} does not divide the {} images of each rank's share "
                                                    "(--batch {} over {} ranks)", o.micro_batch, per_rank, o.batch, s.world));
        s.chunks = per_rank / o.micro_batch;
    }
    s.parts = s.world * s.chunks;
    return s;
}

void drop_short_last_batch(data::BatchSource& source, int64_t batch, const StepSplit& split) {
    const int64_t last = source.items % batch;
    if (last != 0 && last < split.parts && source.batches_per_epoch > 1) source.batches_per_epoch -= 1;
}

// The learning rate of step `step` (0-based) of `total`: a linear warm-up
// over o.warmup steps, then o.lr, or a cosine from o.lr down to 0 at the
// last step. A function of the step alone, so a resumed run follows it exactly.
double learning_rate_at(const TrainOptions& o, int64_t step, int64_t total) {
    if (o.warmup > 0 && step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
    if (o.schedule != "cosine") return o.lr;
    const double t = double(step - o.warmup) / double(std::max<int64_t>(1, total - o.warmup));
    return o.lr * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

// What a run that stops on a non-finite number leaves behind.
std::string kept_checkpoint(const std::string& out_dir) {
    if (std::filesystem::exists(out_dir + "/model.safetensors"))
        return "the last good checkpoint in " + out_dir + " is kept";
    return "no checkpoint had been written yet, and none is";
}

// True when every parameter is a finite number (a NaN or inf sum flags any bad element).
bool parameters_finite(const nn::Module& model) {
    for (auto& [name, p] : model.named_parameters())
        if (!std::isfinite(sum(p.value()).to(Device::cpu()).item())) return false;
    return true;
}

// One parameter's gradient, or zeros where a part left it undefined.
Tensor grad_or_zeros(const ag::Var& p) {
    return p.grad().defined() ? p.grad() : Tensor::zeros(p.shape(), p.dtype(), p.device());
}

// Sums every parameter's gradient over the ranks, as one flat buffer.
void all_reduce_gradients(const optim::Optimizer& opt, distributed::Communicator& comm) {
    int64_t total = 0;
    for (auto& [name, p] : opt.params()) total += p.value().numel();
    if (total == 0) return;
    const ag::Var& first = opt.params().front().second;
    Tensor flat = Tensor::empty({total}, first.dtype(), first.device());
    int64_t at = 0;
    for (auto& [name, p] : opt.params()) {
        Tensor dst = flat.narrow(0, at, p.value().numel());
        dst.copy_from(grad_or_zeros(p).reshape({-1}));
        at += p.value().numel();
    }
    comm.all_reduce_sum(flat);
    at = 0;
    for (auto& [name, p] : opt.params()) {
        ag::Var v = p;
        v.set_grad(flat.narrow(0, at, p.value().numel()).reshape(p.shape()).clone());
        at += p.value().numel();
    }
}

// Forward and backward of this rank's parts of `batch`, their gradients
// summed in part order (the order one process of N micro-batches adds them).
// A whole batch draws from the step's generator; each of several parts from
// its own, seeded by (step, part), so a part draws the same numbers on any
// rank. Returns each stat summed over the parts, weighted by part size.
Stats forward_backward_parts(TrainTask& task, optim::Optimizer& opt, const Tensor& batch, const StepSplit& split,
                             uint64_t step_seed, Generator& step_gen, Device device) {
    const int64_t b = batch.size(0);
    Stats sums;
    std::vector<Tensor> grads;
    for (int64_t c = 0; c < split.chunks; ++c) {
        const int64_t part = split.rank * split.chunks + c;
        const int64_t begin = part * b / split.parts, end = (part + 1) * b / split.parts;
        if (c > 0) {  // keep the parts so far; this part's backward starts from zero
            grads.clear();
            for (auto& [name, p] : opt.params()) grads.push_back(p.grad());
            opt.zero_grad();
        }
        Generator part_gen(data::mix_seed(step_seed, uint64_t(1 + part)));
        Stats s = task.forward_backward(batch.narrow(0, begin, end - begin).contiguous().to(device),
                                        split.parts == 1 ? step_gen : part_gen, double(end - begin) / double(b));
        if (c > 0) {
            size_t i = 0;
            for (auto& [name, p] : opt.params()) {
                Tensor acc = grads[i++];
                if (!acc.defined()) continue;
                if (p.grad().defined()) add_(acc, p.grad());
                ag::Var v = p;
                v.set_grad(acc);
            }
        }
        if (sums.empty()) {
            sums = s;
            for (auto& [name, v] : sums) v = 0;
        }
        for (size_t i = 0; i < s.size(); ++i) sums[i].second += s[i].second * double(end - begin);
    }
    return sums;
}

// Sums the stats over the ranks, and with them whether any rank was
// interrupted, so that every rank stops at the same step.
void all_reduce_stats(Stats& s, distributed::Communicator& comm) {
    std::vector<double> shared;
    for (auto& [name, v] : s) shared.push_back(v);
    shared.push_back(g_interrupted ? 1.0 : 0.0);
    Tensor t = Tensor::from_vector(shared, {int64_t(shared.size())});
    comm.all_reduce_sum(t);
    shared = t.to_vector();
    for (size_t i = 0; i < s.size(); ++i) s[i].second = shared[i];
    if (shared.back() > 0) g_interrupted = true;
}

// FNV-1a (io/hash.hpp) over the bytes of every parameter and training-state tensor: the
// ranks of one job must hold the same bits.
int64_t state_hash(const nn::Module& model, const TrainTask& task) {
    uint64_t h = io::kFnv1aOffset;
    auto mix = [&](const Tensor& t) {
        Tensor c = t.to(Device::cpu()).contiguous();
        h = io::fnv1a64(c.raw_data(), size_t(c.numel()) * dtype_size(c.dtype()), h);
    };
    for (auto& [name, p] : model.named_parameters()) mix(p.value());
    for (auto& [name, t] : task.extra_state()) mix(t);
    return int64_t(h);
}

void check_ranks_agree(const nn::Module& model, const TrainTask& task, distributed::Communicator& comm, int64_t step) {
    Tensor mine = Tensor::from_vector(std::vector<int64_t>{state_hash(model, task)}, {1});
    std::vector<int64_t> all = comm.all_gather(mine).to_ints();
    for (size_t r = 1; r < all.size(); ++r)
        if (all[r] != all[0])
            throw std::runtime_error(fmt::format("after step {}, rank {}'s parameters and codebook differ from rank 0's "
                                                 "(state hash {:016x} against {:016x}): the ranks no longer train one "
                                                 "model, so the run stops", step, r, uint64_t(all[r]), uint64_t(all[0])));
}

// Steps between the consistency checks of a distributed run (and one at the end).
constexpr int64_t kCheckEvery = 200;

int train_ranks(TrainOptions o, bool resume, distributed::Communicator& comm, Device device) {
    const StepSplit split = plan_split(o, comm);
    const bool lead = comm.rank() == 0;  // rank 0 alone prints and writes
    o.world_size = comm.world_size();
    show_progress(lead);

    // Everything is read and checked before anything is written: the model
    // files, the data and, on resume, the checkpoint. A run that fails here
    // leaves --out as it was.
    std::unique_ptr<TrainTask> task = make_task(o, device);
    if (o.lr == 0) o.lr = task->default_lr();
    nn::Module& model = task->model();
    if (!o.init.empty() && !resume) load_model_file(model, o.init, o.model);
    model.to(device);

    optim::AdamConfig adam;
    adam.lr = o.lr;
    optim::Adam opt(model.named_parameters(), adam);
    std::unique_ptr<optim::WeightAverage> average;
    if (o.polyak > 0) average = std::make_unique<optim::WeightAverage>(model.named_parameters(), o.polyak);

    data::BatchSource source = task->train_batches(o.batch, o.seed);
    drop_short_last_batch(source, o.batch, split);
    const int64_t per_epoch = source.batches_per_epoch;
    const int64_t total = o.steps > 0 ? o.steps : o.epochs * per_epoch;

    const std::string model_path = o.out_dir + "/model.safetensors";
    const std::string state_path = o.out_dir + "/train_state.safetensors";
    const std::string metrics_path = o.out_dir + "/metrics.jsonl";
    int64_t step = 0;
    double seconds = 0;  // wall seconds of training steps, over every session of the run
    if (resume) {
        TrainingProgress p = load_training_checkpoint(model, opt, *task, average.get(), model_path, state_path, o);
        step = p.step;
        seconds = p.seconds;
        comm.barrier();  // every rank has read the files before rank 0 rewrites them
        if (lead) truncate_metrics(metrics_path, step);
    } else if (lead) {
        prepare_run_directory(o);
        save_config(o, o.out_dir + "/config.json");
        io::write_file_atomic(metrics_path, "");
    }

    data::Prefetcher batches(source);
    batches.seek(step / per_epoch, step % per_epoch);

    std::unique_ptr<MetricsLog> metrics = lead ? std::make_unique<MetricsLog>(metrics_path) : nullptr;
    InterruptScope interrupts;
    auto checkpoint = [&] {
        if (!parameters_finite(model))
            throw std::runtime_error(fmt::format("non-finite parameters after step {} (is --lr {} too large?): training "
                                                 "stopped; {}", step, o.lr, kept_checkpoint(o.out_dir)));
        if (lead) save_training_checkpoint(model, opt, *task, average.get(), model_path, state_path, o, {step, seconds});
    };
    // test metrics and images see the averaged weights, as the model file does
    auto averaged = [&] {
        return average ? std::make_unique<optim::WeightAverage::AveragedScope>(*average) : nullptr;
    };

    if (lead) {
        fmt::print(stderr, "training {} on {} ({} parameters), {} steps of batch {} ({} per epoch), lr {}{}{}\n", o.model,
                   device.str(), model.parameter_count(), total, o.batch, per_epoch, o.lr,
                   o.schedule == "cosine" ? fmt::format(" (cosine decay, {} warm-up steps)", o.warmup)
                                          : o.warmup > 0 ? fmt::format(" ({} warm-up steps)", o.warmup) : "",
                   average ? fmt::format(", Polyak averaging {}", o.polyak) : "");
        if (split.parts > 1)
            fmt::print(stderr, "data parallel: {} rank(s) ({}) x {} micro-batch(es) of {} images\n", split.world,
                       comm.engine(), split.chunks, o.batch / split.parts);
        if (std::string arch = describe_architecture(o); !arch.empty()) fmt::print(stderr, "architecture: {}\n", arch);
    }
    ProgressBar bar(fmt::format("{} epoch {}", o.model, step / per_epoch + 1), total, step);
    Stats running;
    int64_t running_n = 0;
    while (step < total) {
        const auto started = std::chrono::steady_clock::now();
        Tensor batch = batches.next();  // the whole batch, the same on every rank
        const int64_t b = batch.size(0);
        const uint64_t step_seed = data::mix_seed(o.seed ^ 0x5EEDull, uint64_t(step));
        Generator gen(step_seed);
        opt.zero_grad();
        Stats s = forward_backward_parts(*task, opt, batch, split, step_seed, gen, device);
        if (split.world > 1) {
            all_reduce_gradients(opt, comm);
            all_reduce_stats(s, comm);
        }
        for (auto& [name, v] : s) v /= double(b);  // the means over the whole batch
        if (!std::isfinite(s.front().second)) {
            bar.finish();
            double v = s.front().second;
            throw std::runtime_error(fmt::format("non-finite loss ({}) at step {}: training stopped; {}",
                                                 std::isnan(v) ? "NaN" : fmt::format("{}", v), step + 1,
                                                 kept_checkpoint(o.out_dir)));
        }
        opt.set_lr(learning_rate_at(o, step, total));
        opt.step();
        task->reduce_step(comm);
        task->after_step(gen);
        if (average) average->update(step + 1);
        ++step;
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (running.empty()) running = s;
        else for (size_t i = 0; i < s.size(); ++i) running[i].second += s[i].second;
        ++running_n;
        bar.update(step, b, {s[0]});
        if (split.world > 1 && (step % kCheckEvery == 0 || step == total)) check_ranks_agree(model, *task, comm, step);

        bool epoch_end = step % per_epoch == 0 || step == total;
        if (step % o.log_every == 0 || epoch_end) {
            json j = {{"step", step}, {"epoch", double(step) / double(per_epoch)}, {"seconds", seconds},
                      {"lr", opt.lr()}, {"images_per_s", bar.items_per_second()}};
            for (auto& [k, v] : running) j[k] = v / double(running_n);
            if (lead) metrics->write(j);
            running.clear();
            running_n = 0;
        }
        if (lead && o.eval_every > 0 && (step % o.eval_every == 0 || step == total)) {
            // the learning curve: test NLL on a fixed subset against training seconds
            auto scope = averaged();
            json j = {{"step", step}, {"seconds", seconds}, {"curve_images", o.curve_limit}};
            for (auto& [k, v] : task->evaluate(o.curve_limit)) j["curve_" + k] = v;
            metrics->write(j);
        }
        if (epoch_end) {
            bar.finish();
            Stats epoch_stats = task->end_epoch();
            if (lead) {
                auto scope = averaged();
                Stats test = task->evaluate(o.eval_limit);
                json j = {{"step", step}, {"seconds", seconds}, {"epoch_end", (step + per_epoch - 1) / per_epoch}};
                j.update(stats_json(epoch_stats));
                for (auto& [k, v] : test) j["test_" + k] = v;
                metrics->write(j);
                std::string summary;
                for (auto& [k, v] : epoch_stats) summary += fmt::format(" {} {:.4g}", k, v);
                for (auto& [k, v] : test) summary += fmt::format(" test_{} {:.4g}", k, v);
                fmt::print(stderr, "epoch {} done:{}\n", j["epoch_end"].get<int64_t>(), summary);
                task->write_images(o.out_dir);
                scope.reset();
                checkpoint();
            }
            if (step < total) bar = ProgressBar(fmt::format("{} epoch {}", o.model, step / per_epoch + 1), total, step);
        } else if (o.save_every > 0 && step % o.save_every == 0) {
            checkpoint();
        }
        if (g_interrupted) {
            bar.finish();
            checkpoint();
            if (lead)
                fmt::print(stderr, "interrupted at step {}: checkpoint saved in {}; continue with --resume {}\n", step,
                           o.out_dir, o.out_dir);
            comm.barrier();
            return 130;
        }
    }
    comm.barrier();  // rank 0's last files are written before any rank reports success
    if (lead) fmt::print(stderr, "done: {} and {}\n", model_path, metrics_path);
    return 0;
}

}  // namespace

int train(TrainOptions o, bool resume) {
    if (o.out_dir.empty()) throw std::invalid_argument("--out: an output directory is required");
    if (o.batch <= 0) throw std::invalid_argument("--batch must be positive, got " + std::to_string(o.batch));
    if (o.epochs <= 0 && o.steps <= 0) throw std::invalid_argument("--epochs must be positive, got " + std::to_string(o.epochs));
    if (o.steps < 0) throw std::invalid_argument("--steps must not be negative, got " + std::to_string(o.steps));
    if (o.schedule != "constant" && o.schedule != "cosine")
        throw std::invalid_argument("--schedule must be constant or cosine, got '" + o.schedule + "'");
    if (o.warmup < 0) throw std::invalid_argument("--warmup must not be negative, got " + std::to_string(o.warmup));
    if (!(o.polyak == 0 || (o.polyak > 0 && o.polyak < 1)))
        throw std::invalid_argument(fmt::format("--polyak must be 0 (off) or in (0, 1), got {}", o.polyak));
    if (!std::isfinite(o.lr) || o.lr < 0) throw std::invalid_argument(fmt::format("--lr must be a finite number > 0, got {}", o.lr));
    if (o.threads > 0) blas::set_threads(int(o.threads));
    Device device = Device::parse(o.device);
    std::unique_ptr<distributed::Communicator> comm = distributed::connect(device, o.dist_engine);
    try {
        return train_ranks(o, resume, *comm, device);
    } catch (const std::exception& e) {
        if (comm->world_size() == 1) throw;
        // one rank's error ends the job: the others would wait in a collective forever
        fmt::print(stderr, "\ntrain: rank {} of {}: error: {}\n", comm->rank(), comm->world_size(), e.what());
        std::fflush(stderr);
        comm->abort(1);
        return 1;  // not reached: abort ends every rank
    }
}

}  // namespace vq::models
