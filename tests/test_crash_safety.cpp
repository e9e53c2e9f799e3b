// Crash-safe training: a run killed with SIGKILL part-way and resumed ends
// with the same weights, bit for bit, as an uninterrupted run; Ctrl-C saves a
// checkpoint and exits cleanly.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/files.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {


// The last step recorded in metrics.jsonl (0 if none yet).
int64_t logged_step(const std::string& dir) {
    std::ifstream in(dir + "/metrics.jsonl");
    std::string line;
    int64_t step = 0;
    while (std::getline(in, line)) {
        auto at = line.find("\"step\":");
        if (at != std::string::npos) step = std::max<int64_t>(step, std::atoll(line.c_str() + at + 7));
    }
    return step;
}

void wait_for_step(const std::string& dir, int64_t step, pid_t pid) {
    for (int i = 0; i < 6000 && logged_step(dir) < step; ++i) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) FAIL("the training run ended before step " << step);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// 70 steps of batch 8 with an extra checkpoint every 9 steps; 70 > 50 so a
// dead-code restart (which draws random numbers) happens in the window. The
// learning rate warms up and decays by a cosine, and the weights are
// averaged: the schedule's position and the average must survive the kill.
std::vector<std::string> run_args(const std::string& out) {
    return {"--model", "vqvae", "--steps", "70", "--batch", "8", "--save-every", "9", "--log-every", "1",
            "--eval-limit", "20", "--seed", "11", "--schedule", "cosine", "--warmup", "10", "--polyak", "0.99",
            "--eval-every", "20", "--curve-limit", "16", "--out", out};
}

void check_same_weights(const std::string& a, const std::string& b) {
    auto ta = nn::load_safetensors(a + "/model.safetensors").tensors;
    auto tb = nn::load_safetensors(b + "/model.safetensors").tensors;
    REQUIRE(ta.size() == tb.size());
    for (auto& [name, t] : ta) {
        CAPTURE(name);
        CHECK(t.to_vector() == tb.at(name).to_vector());
    }
}

}  // namespace

TEST_CASE("SIGKILL part-way, then --resume: the final weights equal an uninterrupted run's") {
    const std::string straight = test_dir("crash", "straight", true), killed = test_dir("crash", "killed", true);
    REQUIRE(run_tool(tool("train"), run_args(straight)).exit_code == 0);
    pid_t pid = spawn(tool("train"), run_args(killed), killed + ".log");
    wait_for_step(killed, 31, pid);
    kill(pid, SIGKILL);
    CHECK(wait_exit(pid) == 128 + SIGKILL);
    // the kill left a valid checkpoint (at step 27) and no torn file
    nn::SafetensorsFile mid = nn::load_safetensors(killed + "/model.safetensors");
    int64_t saved = std::stoll(mid.metadata.at("step"));
    CHECK(saved % 9 == 0);
    CHECK(saved >= 27);
    ProcessResult resumed = run_tool(tool("train"), {"--resume", killed});
    CAPTURE(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    check_same_weights(straight, killed);
    // the whole train state too (Adam moments, EMA codebook, the raw weights
    // behind the average), except the wall seconds, which no two runs share
    auto sa = nn::load_safetensors(straight + "/train_state.safetensors").tensors;
    auto sk = nn::load_safetensors(killed + "/train_state.safetensors").tensors;
    REQUIRE(sa.size() == sk.size());
    CHECK(sa.count("polyak.raw.decoder.deconv2.weight"));
    for (auto& [name, t] : sa) {
        CAPTURE(name);
        if (name != "progress.seconds") CHECK(t.to_vector() == sk.at(name).to_vector());
    }
}

TEST_CASE("SIGINT saves a checkpoint and exits cleanly; the run resumes from it") {
    const std::string straight = test_dir("crash", "straight2", true), stopped = test_dir("crash", "stopped", true);
    REQUIRE(run_tool(tool("train"), run_args(straight)).exit_code == 0);
    pid_t pid = spawn(tool("train"), run_args(stopped), stopped + ".log");
    wait_for_step(stopped, 13, pid);
    kill(pid, SIGINT);
    CHECK(wait_exit(pid) == 130);
    std::string log = io::read_file(stopped + ".log");
    CHECK(log.find("interrupted at step") != std::string::npos);
    int64_t step = std::stoll(nn::load_safetensors(stopped + "/model.safetensors").metadata.at("step"));
    CHECK(step >= 13);
    CHECK(step < 70);
    REQUIRE(run_tool(tool("train"), {"--resume", stopped}).exit_code == 0);
    check_same_weights(straight, stopped);
}
