// bench: training-step time, evaluation throughput, GFLOP/s and peak memory
// of the reference models. A benchmark, not a test: nothing here asserts a time.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "models/benchmark.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Benchmark the reference models' training step"};
    vq::models::BenchOptions o;
    std::string model = "all";
    std::vector<int64_t> threads;
    bool as_json = false;
    app.add_option("--model", model, "vqvae | vae | vae-ar (the VAE with the 32x3 autoregressive decoder) | prior | "
                   "pixelcnn (32x8 over the pixels) | all")->capture_default_str()
        ->check(CLI::IsMember({"vqvae", "vae", "vae-ar", "prior", "pixelcnn", "all"}));
    app.add_option("--batch", o.batch, "batch size")->capture_default_str()->check(vq::cli::count_in(1, 1 << 16));
    app.add_option("--threads", threads, "CPU thread counts to measure (default: 1 and 2 on cpu; 0: the default)")
        ->check(vq::cli::count_in(0, 1024));
    app.add_option("--device", o.device, "cpu | cuda")->capture_default_str();
    app.add_option("--steps", o.steps, "timed steps")->capture_default_str()->check(vq::cli::count_in(1, 100000));
    app.add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str()->check(vq::cli::count_in(0, 100000));
    app.add_flag("--json", as_json, "one JSON object per measurement");
    CLI11_PARSE(app, argc, argv);
    if (threads.empty()) threads = o.device == "cpu" ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{0};
    std::vector<std::string> models = model == "all" ? std::vector<std::string>{"vqvae", "vae", "vae-ar", "prior", "pixelcnn"}
                                                     : std::vector<std::string>{model};
    try {
        if (!as_json)
            fmt::print("{:<6} {:<7} {:>7} {:>6} {:>10} {:>12} {:>9} {:>10} {:>8}\n", "model", "device", "threads", "batch",
                       "step ms", "eval img/s", "GFLOP/s", "% of sgemm", "RSS MB");
        for (int64_t t : threads)
            for (const std::string& m : models) {
                o.model = m;
                o.threads = t;
                nlohmann::json r = vq::models::run_benchmark(o);
                if (as_json) fmt::print("{}\n", r.dump());
                else
                    fmt::print("{:<6} {:<7} {:>7} {:>6} {:>10.1f} {:>12.0f} {:>9.1f} {:>9.0f}% {:>8.0f}\n", m,
                               r["device"].get<std::string>(), r["threads"].get<int>(), o.batch, r["step_ms"].get<double>(),
                               r["images_per_s"].get<double>(), r["gflops"].get<double>(),
                               100 * r["peak_fraction"].get<double>(), r["peak_rss_mb"].get<double>());
                std::fflush(stdout);
            }
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench: error: {}\n", e.what());
        return 1;
    }
}
