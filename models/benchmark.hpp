// Benchmarks of the reference models: the training step (forward, backward,
// Adam, and the VQ-VAE's EMA update) at a given batch, evaluation images/s,
// achieved GEMM GFLOP/s against a measured sgemm peak, and peak memory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vq::models {

struct BenchOptions {
    std::string model = "vqvae";  // vqvae | vae | prior
    std::string device = "cpu";
    int64_t batch = 128;
    int64_t threads = 0;          // CPU threads; 0 leaves the default
    int64_t steps = 20;           // timed steps (median reported)
    int64_t warmup = 3;
};

// One JSON object with docs/design.md's keys (model, device, threads, batch,
// step_ms, images_per_s, gflops, peak_rss_mb) plus step_gflop,
// sgemm_peak_gflops and peak_fraction.
nlohmann::json run_benchmark(const BenchOptions& options);
// The sgemm 1024^3 rate on the device, in GFLOP/s (best of a few runs).
double sgemm_peak_gflops(const std::string& device);

}  // namespace vq::models
