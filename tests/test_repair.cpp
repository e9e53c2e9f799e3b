// Repair and denoising (models/repair.hpp) on small untrained models: what
// is kept, what is resampled, and the edge cases that must reduce to the
// plain reconstruction.
#include "models/repair.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;

namespace {

struct SmallModels {
    Generator gen{7};
    models::VQVAE vqvae{gen, [] {
                            models::VQVAEConfig c;
                            c.num_codes = 8;
                            c.code_dim = 4;
                            return c;
                        }()};
    models::GatedPixelCNN prior{gen, [] {
                                    models::PixelCNNConfig c;
                                    c.num_codes = 8;
                                    c.channels = 8;
                                    c.layers = 2;
                                    return c;
                                }()};
};

Tensor random_bits(int64_t n, Generator& gen) { return gt(rand_uniform({n, 1, 28, 28}, 0, 1, gen), 0.6); }

}  // namespace

TEST_CASE("a code is kept exactly when its 4x4 patch holds no damaged pixel") {
    Tensor mask = Tensor::zeros({1, 1, 28, 28});
    Tensor px = mask.select(0, 0).select(0, 0).narrow(0, 5, 1).narrow(1, 9, 1);
    fill_(px, 1.0);  // pixel (row 5, column 9) lies in code (1, 2)
    std::vector<double> keep = models::undamaged_codes(mask).to_vector();
    for (int64_t i = 0; i < 49; ++i) CHECK(keep[size_t(i)] == (i == 1 * 7 + 2 ? 0.0 : 1.0));
    CHECK(message_contains([] { models::undamaged_codes(Tensor::zeros({1, 28, 28})); }, "[N, 1, 28, 28]"));
}

TEST_CASE("repair keeps every code outside the mask and resamples only inside") {
    SmallModels m;
    Tensor x = random_bits(3, m.gen);
    Tensor mask = models::rectangle_mask(6, 10, 10, 7).expand({3, 1, 28, 28}).contiguous();
    Generator g(3);
    models::Repaired r = models::repair_images(m.vqvae, m.prior, x, mask, 4, 1.0, g, Device::cpu());
    Tensor given = m.vqvae.encode(mul(x, add(neg(mask), 1.0)));
    std::vector<double> keep = models::undamaged_codes(mask).to_vector();
    std::vector<int64_t> got = r.codes.to_ints(), want = given.to_ints();
    int64_t kept = 0;
    for (size_t i = 0; i < keep.size(); ++i)
        if (keep[i] > 0.5) {
            CHECK(got[i] == want[i]);
            ++kept;
        }
    CHECK(kept == 3 * (49 - 9));  // the 10 wide, 7 high hole at x 6, y 10 touches code rows 2-4, columns 1-3
    // the undamaged pixels come back unchanged
    CHECK(mul(r.bits, add(neg(mask), 1.0)).to_vector() == mul(x, add(neg(mask), 1.0)).to_vector());
}

TEST_CASE("with an empty mask, repair is the plain reconstruction") {
    SmallModels m;
    Tensor x = random_bits(2, m.gen);
    Generator g(5);
    models::Repaired r = models::repair_images(m.vqvae, m.prior, x, Tensor::zeros(x.shape()), 3, 1.0, g, Device::cpu());
    CHECK(r.codes.to_ints() == m.vqvae.encode(x).to_ints());
    CHECK(gt(r.probs, 0.5).to_vector() == models::denoise_images(m.vqvae, x, Device::cpu()).to_vector());
    CHECK(r.bits.to_vector() == x.to_vector());  // nothing was damaged, so nothing changes
}

TEST_CASE("denoising with no noise is the reconstruction; the noise flips about P of the pixels") {
    SmallModels m;
    Tensor x = random_bits(4, m.gen);
    Generator g(9);
    CHECK(models::add_flip_noise(x, 0.0, g).to_vector() == x.to_vector());
    Tensor recon = gt(m.vqvae.decode_logits(m.vqvae.encode(x)), 0.0);
    CHECK(models::denoise_images(m.vqvae, models::add_flip_noise(x, 0.0, g), Device::cpu()).to_vector() == recon.to_vector());
    double flipped = sum(ne(models::add_flip_noise(x, 0.1, g), x)).item() / double(x.numel());
    CHECK(flipped == doctest::Approx(0.1).epsilon(0.15));
    CHECK(message_contains([&] { models::add_flip_noise(x, 1.5, g); }, "probability"));
}

TEST_CASE("repair reports bad arguments clearly") {
    ProcessResult none = run_tool(tool("repair"), {"--vqvae", "x.safetensors", "--json"});
    CHECK(none.exit_code != 0);
    CHECK(none.output.find("give one of --mask, --random-holes, --noise or --denoise") != std::string::npos);
    CHECK(message_contains([] { models::rectangle_mask(20, 20, 10, 10); }, "inside the 28x28 image"));
}
