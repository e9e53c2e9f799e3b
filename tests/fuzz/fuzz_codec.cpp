// libFuzzer harness for the codecs' file parsing and decoding: arbitrary and
// mutated .vqz and bits-back files must decode or fail with an exception,
// never crash or hang. The first byte picks the codec (bit 0) and whether
// the file is resealed first (bit 1): a mutated file almost never passes the
// header's checksum, so resealing (a fresh length and checksum) is what lets
// mutations reach the header's fields and the decoders behind them.
//
// Small models are made once, deterministically (so their hash, and the
// seed files written to $VQ_FUZZ_SEED_DIR, stay valid between runs): a
// VQ-VAE with K = 4, D = 8, a 2-layer prior of width 8, and a VAE.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "codec/bits_back.hpp"
#include "codec/bytes.hpp"
#include "codec/vqz.hpp"
#include "models/checkpoint.hpp"
#include "tensor/random.hpp"

using namespace vq;

namespace {
std::unique_ptr<codec::Models> vqz_models;
std::unique_ptr<codec::VaeModel> vae_model;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    namespace fs = std::filesystem;
    const std::string dir = (fs::temp_directory_path() / ("vq_fuzz_codec_" + std::to_string(getpid()))).string();
    fs::create_directories(dir);
    Generator gen(1);
    models::VQVAEConfig c;
    c.num_codes = 4;
    c.code_dim = 8;
    models::VQVAE vqvae(gen, c);
    models::GatedPixelCNN prior(gen, {4, 8, 2});
    models::VAE vae(gen);
    models::save_model_file(vqvae, dir + "/vqvae.safetensors", "vqvae", 0);
    models::save_model_file(prior, dir + "/prior.safetensors", "prior", 0);
    models::save_model_file(vae, dir + "/vae.safetensors", "vae", 0);
    vqz_models = std::make_unique<codec::Models>(dir + "/vqvae.safetensors", dir + "/prior.safetensors", Device::cpu());
    vae_model = std::make_unique<codec::VaeModel>(dir + "/vae.safetensors", Device::cpu());
    if (const char* seeds = std::getenv("VQ_FUZZ_SEED_DIR")) {  // valid files to mutate from
        Tensor bits = bernoulli(Tensor::full({3, 1, 28, 28}, 0.3), gen);
        std::ofstream(std::string(seeds) + "/seed-vqz-lossless", std::ios::binary)
            << char(0) << codec::compress(*vqz_models, bits, true, codec::InputKind::IdxDirectory);
        std::ofstream(std::string(seeds) + "/seed-vqz-lossy", std::ios::binary)  // a PNG holds one image
            << char(2) << codec::compress(*vqz_models, bits.narrow(0, 0, 1).contiguous(), false, codec::InputKind::Png);
        std::ofstream(std::string(seeds) + "/seed-bits-back", std::ios::binary)  // two coded lanes
            << char(3) << codec::compress_bits_back(*vae_model, bits, codec::InputKind::IdxFile, {6, 12, 2, 1, false});
        std::ofstream(std::string(seeds) + "/seed-bits-back-stored", std::ios::binary)
            << char(1) << codec::compress_bits_back(*vae_model, bits, codec::InputKind::IdxFile, {6, 12, 2, 1, true});
    }
    fs::remove_all(dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
    const size_t header = (data[0] & 1) ? codec::kBitsBackHeaderBytes : codec::kHeaderBytes;
    if ((data[0] & 2) && file.size() >= header) codec::seal_file(file, header);
    try {
        codec::Decoded d = (data[0] & 1) ? codec::decompress_bits_back(*vae_model, file, "fuzz")
                                         : codec::decompress(*vqz_models, file, "fuzz");
        if (d.bits.dim() != 4 || d.bits.size(2) != 28 || d.bits.size(3) != 28) __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
