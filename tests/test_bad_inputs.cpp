// Bad inputs across the project, as one table: each row must give a clear
// error (checked by its text), a non-zero exit for the tools, and leave every
// file that existed before byte-identical, with no file left behind.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "autograd/ops.hpp"
#include "codec/io.hpp"
#include "data/png.hpp"
#include "data/idx.hpp"
#include "distributed/communicator.hpp"
#include "io/files.hpp"
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
    bool may_create = false;               // it may add files (never change one): a run that fails at a step
};

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

// A PNG of one IHDR chunk claiming w x h 1-bit pixels, and no image data.
std::string png_header_only(uint32_t w, uint32_t h) {
    std::string ihdr = "IHDR" + be32(w) + be32(h) + std::string("\x01\x00\x00\x00\x00", 5);
    uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), uInt(ihdr.size())));
    std::string iend = "IEND";
    uint32_t crc_end = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(iend.data()), 4));
    return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc) + be32(0) + iend + be32(crc_end);
}

std::string st_file(const std::string& header, size_t data) { return le64(header.size()) + header + std::string(data, '\0'); }

// Every file under `dir`, by path, with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) files[e.path().string()] = io::read_file(e.path().string());
        else if (e.is_directory()) files[e.path().string() + "/"] = "(a folder)";
    return files;
}

// A 1-bit 28x28 PNG of the first test image.
void write_test_png(const std::string& path) {
    Tensor bits = codec::read_binary_images(data::kDefaultDataDir, 1).bits;
    data::write_png_bits(path, bits);
}

// An IDX directory with the first n_train training and n_test test images.
void write_small_set(const std::string& dir, int64_t n_train, int64_t n_test) {
    fs::create_directories(dir);
    for (auto [split, n] : {std::pair<std::string, int64_t>{"train", n_train}, {"t10k", n_test}}) {
        data::Dataset full = data::load_split(data::kDefaultDataDir, split);
        std::vector<uint8_t> px(full.pixels.begin(), full.pixels.begin() + n * 784);
        data::write_idx_images(dir + "/" + split + "-images-idx3-ubyte", px, n, 28, 28);
    }
}

}  // namespace

TEST_CASE("at least 80 bad inputs give clear errors and leave every file as it was") {
    const std::string d = test_dir("bad", "inputs", true);
    const std::string data = data::kDefaultDataDir;
    // good runs and files that every case below must leave alone
    const std::string run = d + "/run", vae_run = d + "/vae";
    for (auto [model, out] : {std::pair<std::string, std::string>{"vqvae", run}, {"vae", vae_run}}) {
        ProcessResult made = run_tool(tool("train"), {"--model", model, "--steps", "2", "--batch", "8", "--eval-limit", "20",
                                                      "--out", out});
        REQUIRE(made.exit_code == 0);
    }
    const std::string vqvae = run + "/model.safetensors", vae = vae_run + "/model.safetensors";
    const std::string prior = d + "/prior.safetensors";
    Generator gen(1);
    models::GatedPixelCNN prior_model(gen);
    models::save_model_file(prior_model, prior, "prior", 0);
    const std::string png = d + "/img.png", link = d + "/link.png", small = d + "/small";
    write_test_png(png);
    fs::create_symlink(png, link);
    write_small_set(small, 257, 64);
    fs::create_directories(d + "/adir");
    fs::create_symlink(vqvae, d + "/vq-link");
    {
        models::TrainOptions mixture;
        mixture.model = "mixture";
        mixture.out_dir = d + "/mix";
        fs::create_directories(mixture.out_dir);
        models::save_config(mixture, mixture.out_dir + "/config.json");
    }
    REQUIRE(run_tool(tool("compress"), {"--vqvae", vqvae, "--prior", prior, "--in", png, "--out", d + "/one.vqz"}).exit_code == 0);
    REQUIRE(run_tool(tool("compress"), {"--vqvae", vqvae, "--prior", prior, "--in", small, "--limit", "4", "--lossless",
                                        "--out", d + "/four.vqz"}).exit_code == 0);
    REQUIRE(run_tool(tool("compress"), {"--vae", vae, "--in", small, "--limit", "4", "--out", d + "/four.bb"}).exit_code == 0);
    for (auto [name, at] : {std::pair<std::string, size_t>{"/kind4.vqz", 4}, {"/kind4.bb", 4}}) {
        std::string f = io::read_file(d + (name.find("vqz") != std::string::npos ? "/four.vqz" : "/four.bb"));
        f[at] = char(f[at] ^ 0x02);  // the kind bits of the flags
        write_bytes(d + name, f);
    }

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
        std::string packed = io::read_file(whole);
        write_bytes(d + "/cut.gz", packed.substr(0, packed.size() / 2));
        // a gzip bomb: a header for 10,000 images, then 300 MB of zeros
        std::string bomb = d + "/bomb-idx.gz";
        gzFile b = gzopen(bomb.c_str(), "wb9");
        std::string header = be32(0x803) + be32(10000) + be32(28) + be32(28), zeros(1 << 20, '\0');
        gzwrite(b, header.data(), unsigned(header.size()));
        for (int i = 0; i < 300; ++i) gzwrite(b, zeros.data(), unsigned(zeros.size()));
        gzclose(b);
    }
    fs::create_directories(d + "/dims_set");
    write_bytes(d + "/dims_set/train-images-idx3-ubyte", be32(0x801) + be32(3) + "abc");
    // PNG headers that claim huge images
    write_bytes(d + "/huge.png", png_header_only(20000, 20000));
    write_bytes(d + "/vast.png", png_header_only(1000000, 1000000));
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
    auto train = [&](std::vector<std::string> args) { return [args] { return tool_error("train", args); }; };
    auto sample = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--vqvae", vqvae, "--prior", prior});
        return [args] { return tool_error("sample", args); };
    };
    auto repair = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--vqvae", vqvae, "--prior", prior, "--in", png, "-n", "2"});
        return [args] { return tool_error("repair", args); };
    };
    auto compress = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--vqvae", vqvae, "--prior", prior});
        return [args] { return tool_error("compress", args); };
    };
    auto decompress = [&](std::vector<std::string> args) { return [args] { return tool_error("decompress", args); }; };
    auto evaluate = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--limit", "5"});
        return [args] { return tool_error("evaluate", args); };
    };
    auto bench = [&](std::vector<std::string> args) { return [args] { return tool_error("bench", args); }; };
    const std::string out = d + "/new";  // a fresh output folder that no failing case may create

    const std::vector<BadInput> cases = {
        // IDX files
        {"IDX: empty file", [&] { return error_of([&] { data::read_idx(d + "/empty-idx"); }); }, "file is empty"},
        {"IDX: wrong magic", [&] { return error_of([&] { data::read_idx(d + "/magic-idx"); }); }, "bad magic number 0x12345678"},
        {"IDX: truncated data", [&] { return error_of([&] { data::read_idx(d + "/short-idx"); }); }, "(truncated)"},
        {"IDX: wrong dims for images", [&] { return error_of([&] { data::load_split(d + "/dims_set", "train"); }); }, "expected 3 dims"},
        {"IDX: not gzip", [&] { return error_of([&] { data::read_idx(d + "/notgzip.gz"); }); }, "notgzip.gz"},
        {"IDX: gzip that ends early", [&] { return error_of([&] { data::read_idx(d + "/cut.gz"); }); }, "cut.gz"},
        {"IDX: gzip bomb (10,000 images claimed, 300 MB inflated)", compress({"--in", d + "/bomb-idx.gz", "--out", out + ".vqz"}),
         "bomb-idx.gz: dims [10000, 28, 28] need 7840000 data bytes"},
        {"IDX: missing data directory, and --out is not created",
         train({"--data", d + "/none", "--steps", "1", "--out", out}), "data directory not found"},
        // PNG files
        {"PNG: header claims 20000x20000", compress({"--in", d + "/huge.png", "--out", out + ".vqz"}), "huge.png: the header claims 20000x20000"},
        {"PNG: header claims 10^6 x 10^6", compress({"--in", d + "/vast.png", "--out", out + ".vqz"}), "vast.png: the header claims 1000000x1000000"},
        {"PNG: a huge mask", repair({"--mask", d + "/huge.png", "--out", out + ".png"}), "huge.png: the header claims"},
        // safetensors
        {"safetensors: header length over the file size", [&] { return load_into_vqvae(d + "/long.safetensors"); }, "exceeds the file size"},
        {"safetensors: header is not JSON", [&] { return load_into_vqvae(d + "/notjson.safetensors"); }, "not valid JSON"},
        {"safetensors: offsets out of range", [&] { return load_into_vqvae(d + "/range.safetensors"); }, "outside the data section"},
        {"safetensors: overlapping offsets", [&] { return load_into_vqvae(d + "/overlap.safetensors"); }, "overlap"},
        {"safetensors: unknown dtype", [&] { return load_into_vqvae(d + "/dtype.safetensors"); }, "unsupported dtype 'BF16'"},
        {"safetensors: shape/byte-count mismatch", [&] { return load_into_vqvae(d + "/bytes.safetensors"); }, "needs 12 bytes"},
        {"safetensors: missing tensor", [&] { return load_into_vqvae(d + "/missing.safetensors"); }, "missing tensor 'decoder.deconv2.bias'"},
        {"safetensors: extra tensor", [&] { return load_into_vqvae(d + "/extra.safetensors"); }, "unexpected tensor 'decoder.extra.weight'"},
        {"safetensors: a checkpoint of another model", [&] { return load_into_vqvae(prior); },
         "this is a 'prior' checkpoint, expected a 'vqvae' one"},
        {"safetensors: --init with another model's file", train({"--model", "vae", "--init", vqvae, "--steps", "1", "--out", out}),
         "expected a 'vae' one"},
        // outputs that are inputs
        {"output = input: sample --out the prior", sample({"--out", prior}), "--out " + prior + " is the same file as --prior"},
        {"output = input: sample --out a link to the VQ-VAE", sample({"--out", d + "/vq-link"}), "is the same file as --vqvae"},
        {"output = input: compress --in F --out F", compress({"--in", png, "--out", png}), "--out " + png + " is the same file as --in"},
        {"output = input: compress --out a link to --in", compress({"--in", png, "--out", link}), "is the same file as --in"},
        {"output = input: compress --out the IDX file inside --in", compress({"--in", small, "--out", small + "/t10k-images-idx3-ubyte"}),
         "is the same file as --in"},
        {"output = input: compress --out the VAE", [&] { return tool_error("compress", {"--vae", vae, "--in", png, "--out", vae}); },
         "is the same file as --vae"},
        {"output = input: decompress --in F --out F", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/four.vqz", "--out", d + "/four.vqz"}),
         "is the same file as --in"},
        {"output = input: decompress --out the prior", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/four.vqz", "--out", prior}),
         "is the same file as --prior"},
        {"earlier output: decompress --out a folder that holds images", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/four.vqz", "--out", small}),
         small + " already holds t10k-images-idx3-ubyte"},
        {"output = input: repair --out its --in", repair({"--mask", "2,2,5,5", "--out", png}), "--out " + png + " is the same file as --in"},
        {"output = input: repair --out its --mask", [&] {
             return tool_error("repair", {"--vqvae", vqvae, "--prior", prior, "--in", small, "--mask", png, "--out", png}); },
         "is the same file as --mask"},
        {"output = input: evaluate --json-out the model", evaluate({"--vqvae", vqvae, "--json-out", vqvae}), "--json-out " + vqvae + " is the same file as --vqvae"},
        {"output = input: evaluate --json-out the VAE", evaluate({"--vae", vae, "--json-out", vae}), "is the same file as --vae"},
        {"output = input: train --overwrite over its own --init",
         train({"--init", vqvae, "--overwrite", "--steps", "1", "--batch", "8", "--out", run}), "is the same file as --init"},
        // an existing run is never replaced silently
        {"existing run: train --model mixture into a VQ-VAE run", train({"--model", "mixture", "--components", "2", "--epochs", "1", "--out", run}),
         "--out " + run + " already holds a 'vqvae' run"},
        {"existing run: train --codes 8 into a K = 512 run", train({"--codes", "8", "--steps", "1", "--out", run}), "already holds a 'vqvae' run"},
        {"existing run: train --model vae into a VQ-VAE run", train({"--model", "vae", "--steps", "1", "--out", run}), "pass --overwrite"},
        {"existing run: --overwrite with missing data keeps the run", train({"--overwrite", "--data", d + "/none", "--steps", "1", "--out", run}),
         "data directory not found"},
        {"existing run: --overwrite with a bad --init keeps the run", train({"--overwrite", "--init", d + "/nan.bad", "--steps", "1", "--out", run}),
         "nan.bad: file not found"},
        {"resume: --out given", train({"--resume", run, "--out", out}), "--out cannot be given with it"},
        {"resume: --model given", train({"--resume", run, "--model", "prior"}), "--model cannot be given with it"},
        {"resume: --lr given", train({"--resume", run, "--lr", "1e-3"}), "--lr cannot be given with it"},
        {"resume: architecture flags given", train({"--resume", run, "--codes", "8", "--batch", "4"}), "--batch, --codes cannot be given"},
        {"resume: a folder with no run", train({"--resume", d + "/dims_set"}), "config.json: file not found"},
        {"resume: a mixture run", train({"--resume", d + "/mix"}), "EM runs are not resumable"},
        // output paths that are folders
        {"folder as output: sample --out DIR", sample({"--out", d + "/adir"}), "adir: is a directory, expected a file path"},
        {"folder as output: decompress --out DIR (a PNG)", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/one.vqz", "--out", d + "/adir"}),
         "adir: is a directory, expected a file path"},
        {"folder as input: --vqvae DIR", [&] { return tool_error("sample", {"--vqvae", d + "/adir", "--prior", prior, "--out", out + ".png"}); },
         "adir: is a directory, expected a file"},
        // codec files whose header does not match the payload
        {"codec: .vqz kind byte changed", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/kind4.vqz", "--out", out}), "kind4.vqz"},
        {"codec: bits-back kind byte changed", decompress({"--vae", vae, "--in", d + "/kind4.bb", "--out", out}), "kind4.bb"},
        {"codec: decompress of a non-.vqz file", decompress({"--vqvae", vqvae, "--prior", prior, "--in", vqvae, "--out", out}), "not a .vqz file"},
        {"codec: bits-back file given as .vqz", decompress({"--vqvae", vqvae, "--prior", prior, "--in", d + "/four.bb", "--out", out}), "four.bb"},
        // numbers are checked as numbers
        {"number: --lr nan", train({"--lr", "nan", "--steps", "1", "--out", out}), "--lr: expected a finite number > 0, got 'nan'"},
        {"number: --lr inf", train({"--lr", "inf", "--steps", "1", "--out", out}), "expected a finite number > 0, got 'inf'"},
        {"number: --lr 0 (was silently 2e-4)", train({"--lr", "0", "--steps", "1", "--out", out}), "expected a finite number > 0, got 0"},
        {"number: --lr -1", train({"--lr", "-1", "--steps", "1", "--out", out}), "got -1"},
        {"number: --lr 1e-400 (underflows)", train({"--lr", "1e-400", "--steps", "1", "--out", out}), "got '1e-400'"},
        {"number: --lr 3x", train({"--lr", "3x", "--steps", "1", "--out", out}), "got '3x'"},
        {"number: mixture --alpha nan", train({"--model", "mixture", "--alpha", "nan", "--out", out}), "--alpha: expected a finite number in [0, 1000000]"},
        {"number: --beta -1", train({"--beta", "-1", "--out", out}), "--beta: expected a finite number in [0, 1000000], got -1"},
        {"number: --batch 0", train({"--batch", "0", "--steps", "1", "--out", out}), "--batch: expected an integer in 1..1048576, got 0"},
        {"number: --batch 2.5", train({"--batch", "2.5", "--out", out}), "got '2.5'"},
        {"number: --epochs 0", train({"--epochs", "0", "--out", out}), "--epochs: expected an integer in 1..1000000, got 0"},
        {"number: --steps -3", train({"--resume", run, "--steps", "-3"}), "--steps: expected an integer >= 1, got -3"},
        {"number: --codes 1", train({"--codes", "1", "--out", out}), "--codes: expected an integer in 2..4096, got 1"},
        {"number: --code-dim 0", train({"--code-dim", "0", "--out", out}), "--code-dim: expected an integer in 1..1024"},
        {"number: --prior-layers 65", train({"--prior-layers", "65", "--out", out}), "--prior-layers: expected an integer in 1..64"},
        {"number: --components 0", train({"--model", "mixture", "--components", "0", "--out", out}), "--components: expected an integer in 1..100000"},
        {"number: --eval-limit 0", train({"--eval-limit", "0", "--out", out}), "--eval-limit: expected an integer >= 1"},
        {"number: --threads -1 (train)", train({"--threads", "-1", "--out", out}), "--threads: expected an integer in 0..1024, got -1"},
        {"number: --micro-batch -2", train({"--micro-batch", "-2", "--out", out}), "--micro-batch: expected an integer >= 0"},
        {"number: bench --threads -1 (was silently 1)", bench({"--threads", "-1"}), "--threads: expected an integer in 0..1024, got -1"},
        {"number: bench --batch -4", bench({"--batch", "-4"}), "--batch: expected an integer in 1..65536"},
        {"number: bench --steps 0", bench({"--steps", "0"}), "--steps: expected an integer in 1..100000"},
        {"number: sample --temperature nan", sample({"--temperature", "nan", "--out", out + ".png"}), "--temperature: expected a finite number > 0, got 'nan'"},
        {"number: sample --temperature 0 (readable range)", sample({"--temperature", "0", "--out", out + ".png"}), "expected a finite number > 0, got 0"},
        {"number: sample -n 0", sample({"-n", "0", "--out", out + ".png"}), "-n: expected an integer in 1..1024, got 0"},
        {"number: sample --scale 0", sample({"--scale", "0", "--out", out + ".png"}), "--scale: expected an integer in 1..64"},
        {"number: sample --condition-top 8", sample({"--condition-top", "8", "--out", out + ".png"}), "--condition-top: expected an integer in 0..7"},
        {"number: repair --temperature nan", repair({"--mask", "2,2,5,5", "--temperature", "nan", "--out", out + ".png"}), "--temperature: expected a finite number > 0"},
        {"number: repair --random-holes 0", repair({"--random-holes", "0", "--out", out + ".png"}), "--random-holes: expected an integer in 1..28, got 0"},
        {"number: repair --noise -0.1", repair({"--noise", "-0.1", "--out", out + ".png"}), "--noise: expected a finite number in [0, 1], got -0.1"},
        {"number: repair --noise nan", repair({"--noise", "nan", "--out", out + ".png"}), "got 'nan'"},
        {"number: repair -n 0", repair({"--mask", "2,2,5,5", "-n", "0", "--out", out + ".png"}), "-n: expected an integer in 1..1024"},
        {"number: compress --lanes 0", [&] { return tool_error("compress", {"--vae", vae, "--in", png, "--lanes", "0", "--out", out}); }, "--lanes: expected an integer in 1..65535"},
        {"number: compress --limit -1", compress({"--in", small, "--limit", "-1", "--out", out}), "--limit: expected an integer >= 0"},
        {"number: evaluate --iw 100000000 (was unbounded)", evaluate({"--vae", vae, "--iw", "100000000"}), "--iw: expected an integer in 1..10000"},
        {"number: evaluate --limit -1", [&] { return tool_error("evaluate", {"--vae", vae, "--limit", "-1"}); }, "--limit: expected an integer >= 0"},
        // masks and modes
        {"repair: --mask 1,1,INT64_MAX,2 (overflowed into a heap write)", repair({"--mask", "1,1,9223372036854775807,2", "--out", out + ".png"}),
         "must lie inside the 28x28 image"},
        {"repair: --mask 0,27,2,INT64_MAX", repair({"--mask", "0,27,2,9223372036854775807", "--out", out + ".png"}), "must lie inside the 28x28 image"},
        {"repair: --mask 1,2,3", repair({"--mask", "1,2,3", "--out", out + ".png"}), "--mask 1,2,3: expected a rectangle x,y,w,h (four integers)"},
        {"repair: --mask of a missing file", repair({"--mask", d + "/none.png", "--out", out + ".png"}), "none.png: file not found"},
        {"repair: two modes", repair({"--mask", "1,1,2,2", "--random-holes", "3", "--out", out + ".png"}), "give only one of them"},
        {"repair: no mode", repair({"--out", out + ".png"}), "give one of --mask, --random-holes, --noise or --denoise"},
        // command lines
        {"CLI: unknown flag", train({"--modle", "vqvae"}), "--modle"},
        {"CLI: a micro-batch that does not divide the batch", train({"--batch", "10", "--micro-batch", "4", "--steps", "1", "--out", out}),
         "--micro-batch 4 does not divide the 10 images"},
        {"CLI: prior without --vqvae", train({"--model", "prior", "--out", out}), "needs --vqvae FILE"},
        {"CLI: unwritable --out", train({"--steps", "1", "--out", "/proc/vq/out"}), "/proc/vq/out"},
        {"CLI: evaluate with no model", [&] { return tool_error("evaluate", {"--limit", "5"}); }, "give at least --vqvae, --vae, --pixelcnn or --mixture"},
        {"CLI: bad device name", evaluate({"--vqvae", vqvae, "--device", "tpu"}), "unknown device 'tpu'"},
        {"CLI: sample -n 100 --condition-top 3 on 64 test images", sample({"-n", "100", "--condition-top", "3", "--data", small, "--out", out + ".png"}),
         "holds only 64: give -n 64 or less"},
        // a model whose numbers are not numbers
        {"NaN model: evaluate refuses a NaN bound", evaluate({"--vqvae", d + "/nan.safetensors"}), "holds non-finite weights"},
        {"NaN model: training from NaN weights", train({"--init", d + "/nan.safetensors", "--steps", "3", "--batch", "8", "--out", d + "/nan_run"}),
         "non-finite loss (NaN) at step 1", true},
        {"NaN model: --lr 1e39 --steps 1 saves no infinite model", train({"--lr", "1e39", "--steps", "1", "--batch", "8", "--eval-limit", "10", "--out", d + "/inf_run"}),
         "non-finite parameters after step 1", true},
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
    };
    CHECK(cases.size() >= 80);
    for (const BadInput& c : cases) {
        CAPTURE(c.name);
        const auto before = snapshot(d);
        std::string err = c.attempt();
        CAPTURE(err);
        CHECK_FALSE(err.empty());
        CHECK(err.find(c.expected) != std::string::npos);
        const auto after = snapshot(d);
        for (const auto& [path, bytes] : before) {
            CAPTURE(path);
            CHECK((after.count(path) && after.at(path) == bytes));  // nothing that existed changed or went
        }
        if (!c.may_create)
            for (const auto& [path, bytes] : after) {
                CAPTURE(path);
                CHECK(before.count(path));  // and nothing new was left behind: no output, folder or temporary file
            }
    }
    models::load_model_file(vq, vqvae, "vqvae");
}

TEST_CASE("weights or a loss that turn non-finite stop training at that step and keep the last good checkpoint") {
    const std::string d = test_dir("bad", "explode");
    // an absurd learning rate drives the weights to inf within a few steps
    ProcessResult r = run_tool(tool("train"), {"--steps", "60", "--batch", "8", "--lr", "1e30", "--save-every", "1",
                                               "--log-every", "1", "--eval-limit", "10", "--out", d});
    REQUIRE(r.exit_code != 0);
    CAPTURE(r.output);
    auto at = r.output.find("non-finite loss");
    std::string marker = "at step ";
    if (at == std::string::npos) at = r.output.find("non-finite parameters"), marker = "after step ";
    REQUIRE(at != std::string::npos);
    int bad_step = std::atoi(r.output.c_str() + r.output.find(marker, at) + marker.size());
    CHECK(bad_step > 1);
    nn::SafetensorsFile kept = nn::load_safetensors(d + "/model.safetensors");
    CHECK(kept.metadata.at("step") == std::to_string(bad_step - 1));
    CHECK(nn::load_safetensors(d + "/train_state.safetensors").metadata.at("step") == std::to_string(bad_step - 1));
    for (auto& [name, t] : kept.tensors) CHECK(std::isfinite(sum(t).item()));
}

// N copies of a single-process run would each train alone and overwrite one
// another's files. Only a build without MPI can show this (the sanitizer build
// of the test command is configured -Dmpi=disabled); in an MPI build the same
// environment means a real launch, so there the case is skipped.
TEST_CASE("a build without MPI refuses to run as one rank of several" * doctest::skip(distributed::built_with_mpi())) {
    const std::string dir = test_dir("bad_inputs", "no_mpi", true);
    ProcessResult r = run_tool("/usr/bin/env", {"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=1", tool("train"),
                                                "--model", "vqvae", "--steps", "1", "--out", dir + "/run"});
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("rank 1 of 2") != std::string::npos);
    CHECK(r.output.find("this build has no MPI") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/run/model.safetensors"));
}
