// Bad inputs across the project: each one must give a clear error (checked by
// its text), a non-zero exit for the tools, and leave the last good
// checkpoint of a run untouched.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "autograd/ops.hpp"
#include "data/idx.hpp"
#include "dist/communicator.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn.hpp"
#include "models/vqvae.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

struct BadInput {
    std::string name;
    std::function<std::string()> attempt;  // returns the error text ("" if it wrongly succeeded)
    std::string expected;                  // a substring the error must contain
};

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

std::string tool_error(const std::string& name, const std::vector<std::string>& args) {
    ProcessResult r = run_tool(tool(name), args);
    if (r.exit_code == 0) return "";
    return "[exit " + std::to_string(r.exit_code) + "] " + r.output;
}


void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string be32(uint32_t v) {
    std::string s;
    for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xff));
    return s;
}

std::string le64(uint64_t v) {
    std::string s;
    for (int i = 0; i < 8; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
    return s;
}

std::string st_file(const std::string& header, size_t data) { return le64(header.size()) + header + std::string(data, '\0'); }

std::string fingerprint(const std::string& dir) {
    return nn::read_file(dir + "/model.safetensors") + nn::read_file(dir + "/train_state.safetensors");
}

}  // namespace

TEST_CASE("at least 30 bad inputs give clear errors and damage no checkpoint") {
    const std::string d = test_dir("bad", "inputs");
    const std::string data = data::kDefaultDataDir;
    // a good run whose checkpoint every case below must leave alone
    const std::string run = d + "/run";
    ProcessResult made = run_tool(tool("train"), {"--model", "vqvae", "--steps", "2", "--batch", "8", "--eval-limit", "20",
                                                  "--out", run});
    REQUIRE(made.exit_code == 0);
    const std::string before = fingerprint(run);
    const std::string vqvae = run + "/model.safetensors";
    Generator gen(1);
    models::GatedPixelCNN prior(gen);
    models::save_model_file(prior, d + "/prior.safetensors", "prior", 0);

    // IDX fixtures
    write_bytes(d + "/empty-idx", "");
    write_bytes(d + "/magic-idx", be32(0x12345678) + be32(1) + "x");
    write_bytes(d + "/short-idx", be32(0x803) + be32(10) + be32(28) + be32(28) + std::string(100, 'x'));
    write_bytes(d + "/dims-idx", be32(0x801) + be32(3) + "abc");
    write_bytes(d + "/notgzip.gz", std::string("\x1f\x8b\x08garbage-that-is-not-deflate", 30));
    {
        std::string whole = d + "/whole.gz";
        gzFile f = gzopen(whole.c_str(), "wb");
        std::string body = be32(0x803) + be32(100) + be32(28) + be32(28) + std::string(78400, 'x');
        gzwrite(f, body.data(), unsigned(body.size()));
        gzclose(f);
        std::string packed = nn::read_file(whole);
        write_bytes(d + "/cut.gz", packed.substr(0, packed.size() / 2));
    }
    fs::create_directories(d + "/dims_set");
    write_bytes(d + "/dims_set/train-images-idx3-ubyte", be32(0x801) + be32(3) + "abc");
    // safetensors fixtures
    write_bytes(d + "/long.safetensors", le64(1 << 20) + "{}");
    write_bytes(d + "/notjson.safetensors", st_file("{\"a\": [1, 2", 0));
    write_bytes(d + "/range.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
    write_bytes(d + "/overlap.safetensors",
                st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
    write_bytes(d + "/dtype.safetensors", st_file(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 4));
    write_bytes(d + "/bytes.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
    {
        auto f = nn::load_safetensors(vqvae);
        auto missing = f.tensors;
        missing.erase("decoder.deconv2.bias");
        nn::save_safetensors(d + "/missing.safetensors", missing, f.metadata);
        auto extra = f.tensors;
        extra["decoder.extra.weight"] = Tensor::zeros({2});
        nn::save_safetensors(d + "/extra.safetensors", extra, f.metadata);
        auto nan = f.tensors;
        nan["decoder.deconv2.bias"] = Tensor::full({1}, std::nan(""));
        nn::save_safetensors(d + "/nan.safetensors", nan, f.metadata);
    }
    Generator g2(2);
    models::VQVAE vq(g2);
    auto load_into_vqvae = [&](const std::string& path) { return error_of([&] { models::load_model_file(vq, path, "vqvae"); }); };

    const std::vector<BadInput> cases = {
        // IDX files
        {"IDX: empty file", [&] { return error_of([&] { data::read_idx(d + "/empty-idx"); }); }, "file is empty"},
        {"IDX: wrong magic", [&] { return error_of([&] { data::read_idx(d + "/magic-idx"); }); }, "bad magic number 0x12345678"},
        {"IDX: truncated data", [&] { return error_of([&] { data::read_idx(d + "/short-idx"); }); }, "(truncated)"},
        {"IDX: wrong dims for images", [&] { return error_of([&] { data::load_split(d + "/dims_set", "train"); }); }, "expected 3 dims"},
        {"IDX: not gzip", [&] { return error_of([&] { data::read_idx(d + "/notgzip.gz"); }); }, "notgzip.gz"},
        {"IDX: gzip that ends early", [&] { return error_of([&] { data::read_idx(d + "/cut.gz"); }); }, "cut.gz"},
        {"IDX: missing data directory", [&] { return tool_error("train", {"--data", d + "/none", "--steps", "1", "--out", d + "/o1"}); },
         "data directory not found"},
        // safetensors
        {"safetensors: header length over the file size", [&] { return load_into_vqvae(d + "/long.safetensors"); }, "exceeds the file size"},
        {"safetensors: header is not JSON", [&] { return load_into_vqvae(d + "/notjson.safetensors"); }, "not valid JSON"},
        {"safetensors: offsets out of range", [&] { return load_into_vqvae(d + "/range.safetensors"); }, "outside the data section"},
        {"safetensors: overlapping offsets", [&] { return load_into_vqvae(d + "/overlap.safetensors"); }, "overlap"},
        {"safetensors: unknown dtype", [&] { return load_into_vqvae(d + "/dtype.safetensors"); }, "unsupported dtype 'BF16'"},
        {"safetensors: shape/byte-count mismatch", [&] { return load_into_vqvae(d + "/bytes.safetensors"); }, "needs 12 bytes"},
        {"safetensors: missing tensor", [&] { return load_into_vqvae(d + "/missing.safetensors"); }, "missing tensor 'decoder.deconv2.bias'"},
        {"safetensors: extra tensor", [&] { return load_into_vqvae(d + "/extra.safetensors"); }, "unexpected tensor 'decoder.extra.weight'"},
        {"safetensors: a checkpoint of another model", [&] { return load_into_vqvae(d + "/prior.safetensors"); },
         "this is a 'prior' checkpoint, expected a 'vqvae' one"},
        {"safetensors: --init with another model's file",
         [&] { return tool_error("train", {"--model", "vae", "--init", vqvae, "--steps", "1", "--out", run}); }, "expected a 'vae' one"},
        // command lines
        {"CLI: unknown flag", [&] { return tool_error("train", {"--modle", "vqvae"}); }, "--modle"},
        {"CLI: a micro-batch that does not divide the batch",
         [&] { return tool_error("train", {"--batch", "10", "--micro-batch", "4", "--steps", "1", "--out", d + "/mb"}); },
         "--micro-batch 4 does not divide the 10 images"},
        {"CLI: zero batch", [&] { return tool_error("train", {"--batch", "0", "--steps", "1", "--out", d + "/o2"}); }, "--batch must be positive, got 0"},
        {"CLI: negative batch", [&] { return tool_error("bench", {"--batch", "-4"}); }, "--batch"},
        {"CLI: zero epochs", [&] { return tool_error("train", {"--epochs", "0", "--out", d + "/o3"}); }, "--epochs must be positive, got 0"},
        {"CLI: negative steps on resume", [&] { return tool_error("train", {"--resume", run, "--steps", "-3"}); }, "--steps must not be negative"},
        {"CLI: prior without --vqvae", [&] { return tool_error("train", {"--model", "prior", "--out", d + "/o4"}); }, "needs --vqvae FILE"},
        {"CLI: unwritable --out", [&] { return tool_error("train", {"--steps", "1", "--out", "/proc/vq/out"}); }, "/proc/vq/out"},
        {"CLI: resume of a folder with no run", [&] { return tool_error("train", {"--resume", d + "/dims_set"}); }, "config.json: cannot open"},
        {"CLI: evaluate with no model", [&] { return tool_error("evaluate", {"--limit", "5"}); }, "give at least --vqvae, --vae or --mixture"},
        {"CLI: sample with n = 0", [&] { return tool_error("sample", {"--vqvae", vqvae, "--prior", d + "/prior.safetensors", "-n", "0", "--out", d + "/s.png"}); }, "-n"},
        {"CLI: bad device name", [&] { return tool_error("evaluate", {"--vqvae", vqvae, "--device", "tpu", "--limit", "2"}); }, "unknown device 'tpu'"},
        {"CLI: decompress of a non-.vqz file", [&] { return tool_error("decompress", {"--vqvae", vqvae, "--prior", d + "/prior.safetensors", "--in", vqvae, "--out", d + "/x"}); }, "not a .vqz file"},
        // tensors: shape mismatches at the public ops
        {"tensor: broadcast mismatch", [] { return error_of([] { add(Tensor::ones({2, 3}), Tensor::ones({4, 3})); }); }, "[2, 3] and [4, 3]"},
        {"tensor: matmul inner dims", [] { return error_of([] { matmul(Tensor::ones({2, 3}), Tensor::ones({2, 3})); }); }, "inner dims differ"},
        {"tensor: conv2d channels", [] { return error_of([] { conv2d(Tensor::ones({1, 2, 5, 5}), Tensor::ones({3, 4, 3, 3}), Tensor(), {}); }); }, "[1, 2, 5, 5] and [3, 4, 3, 3]"},
        {"tensor: conv_transpose2d channels", [] { return error_of([] { conv_transpose2d(Tensor::ones({1, 2, 5, 5}), Tensor::ones({3, 4, 3, 3}), Tensor(), {}); }); }, "[1, 2, 5, 5] and [3, 4, 3, 3]"},
        {"tensor: reshape count", [] { return error_of([] { Tensor::ones({6}).reshape({4, 2}); }); }, "[6] and [4, 2]"},
        {"tensor: in-place shape", [] { return error_of([] { Tensor a = Tensor::ones({3}); add_(a, Tensor::ones({2, 3})); }); }, "[3] and [2, 3]"},
        {"tensor: index out of range", [] { return error_of([] { index_select(Tensor::ones({3, 2}), 0, Tensor::full({1}, 7, DType::I64)); }); }, "index 7 out of range [0, 3)"},
        {"tensor: linear shapes", [] { return error_of([] { ag::linear(ag::Var(Tensor::ones({2, 5})), ag::Var(Tensor::ones({3, 4})), ag::Var()); }); }, "[2, 5] and [3, 4]"},
        {"tensor: cross-entropy shapes", [] { return error_of([] { ag::cross_entropy(ag::Var(Tensor::ones({2, 5, 3})), Tensor::zeros({2, 4}, DType::I64)); }); }, "spatial dims differ"},
        {"tensor: BCE shapes", [] { return error_of([] { ag::bce_with_logits(ag::Var(Tensor::ones({2, 5})), ag::Var(Tensor::ones({5, 2}))); }); }, "[2, 5] and [5, 2]"},
        {"tensor: model input shape", [&] { return error_of([&] { vq.forward(Tensor::ones({2, 1, 32, 32})); }); }, "[2, 1, 32, 32]"},
        // training
        {"training: NaN weights make a NaN loss",
         [&] { return tool_error("train", {"--init", d + "/nan.safetensors", "--steps", "3", "--batch", "8", "--out", d + "/nan_run"}); },
         "non-finite loss (NaN) at step 1"},
    };
    CHECK(cases.size() >= 30);
    for (const BadInput& c : cases) {
        CAPTURE(c.name);
        std::string err = c.attempt();
        CAPTURE(err);
        CHECK_FALSE(err.empty());
        CHECK(err.find(c.expected) != std::string::npos);
    }
    CHECK(fingerprint(run) == before);  // nothing above touched the good checkpoint
    models::load_model_file(vq, vqvae, "vqvae");
}

TEST_CASE("a loss that turns non-finite stops training at that step and keeps the last good checkpoint") {
    const std::string d = test_dir("bad", "explode");
    // an absurd learning rate drives the weights to inf within a few steps
    ProcessResult r = run_tool(tool("train"), {"--steps", "60", "--batch", "8", "--lr", "1e37", "--save-every", "1",
                                               "--log-every", "1", "--eval-limit", "10", "--out", d});
    REQUIRE(r.exit_code != 0);
    auto at = r.output.find("non-finite loss");
    REQUIRE(at != std::string::npos);
    int bad_step = std::atoi(r.output.c_str() + r.output.find("at step ", at) + 8);
    CHECK(bad_step > 1);
    nn::SafetensorsFile kept = nn::load_safetensors(d + "/model.safetensors");
    CHECK(kept.metadata.at("step") == std::to_string(bad_step - 1));
    CHECK(nn::load_safetensors(d + "/train_state.safetensors").metadata.at("step") == std::to_string(bad_step - 1));
}

TEST_CASE("a build without MPI refuses to run as one rank of several") {
    // N copies of a single-process run would each train alone and overwrite
    // one another's files. Only a build without MPI can show this (the
    // sanitizer build of the test command is configured -Dmpi=disabled); in
    // an MPI build the same environment means a real launch.
    if (dist::built_with_mpi()) {
        MESSAGE("skipped: this build has MPI (the -Dmpi=disabled build checks it)");
        return;
    }
    const std::string dir = test_dir("bad_inputs", "no_mpi", true);
    ProcessResult r = run_tool("/usr/bin/env", {"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=1", tool("train"),
                                                "--model", "vqvae", "--steps", "1", "--out", dir + "/run"});
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("rank 1 of 2") != std::string::npos);
    CHECK(r.output.find("this build has no MPI") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/run/model.safetensors"));
}
