// CUDA parity tests: the op table of the gradient check runs on the CPU and
// on the GPU in f32, and values and gradients must agree (relative error
// < 1e-4); then a whole VQ-VAE training step. Without a GPU the program
// exits 77 (meson: SKIP).
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>

#include "cuda/backend.hpp"
#include "models/vqvae.hpp"
#include "optim/optimizer.hpp"
#include "tests/op_table.hpp"

using namespace vq;
using namespace vq::testing;

namespace {

const Device kGpu = Device::cuda();

struct Run {
    Tensor out;
    std::vector<Tensor> grads;
};

Run run_case(const GradCase& c, uint64_t seed, Device device) {
    Generator gen(seed);
    std::vector<ag::Var> vars;
    for (const auto& s : c.inputs) vars.push_back(ag::Var(make_input(s, gen, device, DType::F32), true));
    ag::Var out = c.fn(vars);
    Tensor weights = random_tensor(out.shape(), gen, DType::F32).to(device);
    ag::sum(ag::mul(out, ag::Var(weights))).backward();
    Run r{out.value().to(Device::cpu()), {}};
    for (auto& v : vars) r.grads.push_back(v.grad().to(Device::cpu()));
    return r;
}

}  // namespace

TEST_CASE("host-device round trips keep values, strided views included") {
    Generator gen(20);
    Tensor x = random_tensor({3, 5}, gen, DType::F32);
    CHECK_CLOSE(x.to(kGpu).to(Device::cpu()), x, 0, 0);
    CHECK_CLOSE(x.t().to(kGpu).to(Device::cpu()), x.t().contiguous(), 0, 0);
    Tensor g = x.to(kGpu);
    CHECK_CLOSE(g.t().contiguous().to(Device::cpu()), x.t().contiguous(), 0, 0);
    CHECK_CLOSE(g.to(DType::F64).to(Device::cpu()), x.to(DType::F64), 0, 0);
    Tensor dst = Tensor::zeros({5, 6}, DType::F32, kGpu);
    dst.narrow(1, 1, 3).copy_from(x.t());
    CHECK_CLOSE(dst.narrow(1, 1, 3).to(Device::cpu()), x.t().contiguous(), 0, 0);
    CHECK(sum(dst).item() == doctest::Approx(sum(x).item()).epsilon(1e-5));
}

TEST_CASE("every op of the gradient table matches the CPU, forward and backward") {
    uint64_t seed = 1000;
    for (const GradCase& c : op_table()) {
        CAPTURE(c.name);
        Run cpu = run_case(c, seed, Device::cpu()), gpu = run_case(c, seed, kGpu);
        ++seed;
        CHECK_CLOSE(gpu.out, cpu.out, 1e-4, 1e-5);
        for (size_t i = 0; i < cpu.grads.size(); ++i) {
            CAPTURE(i);
            CHECK_CLOSE(gpu.grads[i], cpu.grads[i], 1e-4, 1e-5);
        }
    }
}

TEST_CASE("reductions, argmax/argmin, fills and comparisons match the CPU") {
    Generator gen(22);
    Tensor x = random_tensor({4, 37, 5}, gen, DType::F32);
    Tensor g = x.to(kGpu);
    for (std::vector<int64_t> dims : {std::vector<int64_t>{0}, {1}, {2}, {0, 2}, {}}) {
        CHECK_CLOSE(sum(g, dims).to(Device::cpu()), sum(x, dims), 1e-5, 1e-5);
        CHECK_CLOSE(max(g, dims, true).to(Device::cpu()), max(x, dims, true), 0, 0);
        CHECK_CLOSE(min(g, dims).to(Device::cpu()), min(x, dims), 0, 0);
    }
    for (int64_t d : {0, 1, 2}) {
        CHECK(argmax(g, d).to_ints() == argmax(x, d).to_ints());
        CHECK(argmin(g.transpose(0, 2), d).to_ints() == argmin(x.transpose(0, 2), d).to_ints());
    }
    Tensor f = Tensor::zeros({3, 4}, DType::F32, kGpu);
    Tensor col = f.narrow(1, 1, 1);
    fill_(col, 2.0);
    CHECK(sum(f).item() == 6.0);
    CHECK_CLOSE(gt(g, 0.0).to(Device::cpu()), gt(x, 0.0), 0, 0);
    CHECK_CLOSE(logsumexp(g, {1}).to(Device::cpu()), logsumexp(x, {1}), 1e-5, 1e-5);
}

TEST_CASE("convolutions match the naive oracle on the GPU") {
    Generator gen(23);
    for (int64_t k : {1, 3, 4})
        for (int64_t s : {1, 2})
            for (int64_t p : {0, 1}) {
                CAPTURE(k); CAPTURE(s); CAPTURE(p);
                Conv2dParams cp = Conv2dParams::square(s, p);
                Tensor x = random_tensor({3, 5, 9, 8}, gen, DType::F32), w = random_tensor({4, 5, k, k}, gen, DType::F32);
                Tensor b = random_tensor({4}, gen, DType::F32);
                Tensor y = conv2d(x.to(kGpu), w.to(kGpu), b.to(kGpu), cp);
                CHECK_CLOSE(y.to(Device::cpu()), conv2d_naive(x, w, b, cp), 1e-4, 1e-5);
                Tensor gy = random_tensor(y.shape(), gen, DType::F32);
                CHECK_CLOSE(conv2d_weight_grad(x.to(kGpu), gy.to(kGpu), w.shape(), cp).to(Device::cpu()),
                            conv2d_weight_grad(x, gy, w.shape(), cp), 1e-4, 1e-4);
                CHECK_CLOSE(conv2d_input_grad(gy.to(kGpu), w.to(kGpu), x.shape(), cp).to(Device::cpu()),
                            conv2d_input_grad(gy, w, x.shape(), cp), 1e-4, 1e-5);
                Tensor wt = random_tensor({5, 4, k, k}, gen, DType::F32);
                CHECK_CLOSE(conv_transpose2d(x.to(kGpu), wt.to(kGpu), b.to(kGpu), cp).to(Device::cpu()),
                            conv_transpose2d_naive(x, wt, b, cp), 1e-4, 1e-5);
            }
}

TEST_CASE("index_add sums duplicates deterministically, like the CPU") {
    Generator gen(24);
    Tensor src = random_tensor({1000, 8}, gen, DType::F32);
    Tensor idx = randint({1000}, 7, gen);
    Tensor a = index_add({7, 8}, 0, idx, src.to(kGpu)).to(Device::cpu());
    Tensor b = index_add({7, 8}, 0, idx, src.to(kGpu)).to(Device::cpu());
    CHECK(a.to_vector() == b.to_vector());  // bit for bit, run to run
    CHECK_CLOSE(a, index_add({7, 8}, 0, idx, src), 1e-5, 1e-5);
}

TEST_CASE("an out-of-range index on the GPU is reported at the next synchronisation") {
    Tensor x = Tensor::ones({4, 2}, DType::F32, kGpu);
    Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, 4}, {2});
    Tensor y = index_select(x, 0, bad);
    CHECK_THROWS_AS(y.to(Device::cpu()), std::out_of_range);
    CHECK(sum(index_select(x, 0, Tensor::from_vector(std::vector<int64_t>{3}, {1}))).item() == 2.0);  // the flag was reset
}

TEST_CASE("Adam on the GPU matches the CPU") {
    Generator gen(25);
    Tensor p0 = random_tensor({300}, gen, DType::F32), g = random_tensor({300}, gen, DType::F32);
    optim::AdamConfig c;
    c.lr = 1e-2;
    c.weight_decay = 0.1;
    c.decoupled = true;
    Tensor pc = p0.clone(), mc = Tensor::zeros({300}), vc = Tensor::zeros({300});
    Tensor pg = p0.to(kGpu), mg = Tensor::zeros({300}, DType::F32, kGpu), vg = Tensor::zeros({300}, DType::F32, kGpu);
    Tensor gg = g.to(kGpu);
    for (int64_t step = 1; step <= 3; ++step) {
        optim::adam_step_(pc, g, mc, vc, c, step);
        optim::adam_step_(pg, gg, mg, vg, c, step);
    }
    CHECK_CLOSE(pg.to(Device::cpu()), pc, 1e-5, 1e-6);
}

TEST_CASE("a whole VQ-VAE training step on CUDA matches the CPU step") {
    Generator g1(26), g2(26), data(27);
    models::VQVAE cpu(g1), gpu(g2);
    gpu.to(kGpu);
    Tensor x = bernoulli(Tensor::full({16, 1, 28, 28}, 0.3), data);
    optim::Adam oc(cpu.named_parameters(), optim::AdamConfig{2e-4}), og(gpu.named_parameters(), optim::AdamConfig{2e-4});
    models::VQVAE::Output a = cpu.forward(x), b = gpu.forward(x.to(kGpu));
    CHECK(b.q.codes.to_ints() == a.q.codes.to_ints());
    CHECK(b.loss.value().item() == doctest::Approx(a.loss.value().item()).epsilon(1e-3));
    a.loss.backward();
    b.loss.backward();
    oc.step();
    og.step();
    Generator r1(28), r2(28);
    cpu.quantizer.ema_update(a.q.z_e_flat, a.q.codes, r1);
    gpu.quantizer.ema_update(b.q.z_e_flat, b.q.codes, r2);
    auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
        CAPTURE(pc[i].first);
        CHECK(close_ratio(pg[i].second.value().to(Device::cpu()), pc[i].second.value(), 1e-3, 1e-6) <= 1.0);
        if (pc[i].second.grad().defined())
            CHECK(close_ratio(pg[i].second.grad().to(Device::cpu()), pc[i].second.grad(), 1e-3, 1e-4) <= 1.0);
    }
}

TEST_CASE("the device pool reuses freed blocks") {
    { Tensor a = Tensor::empty({1 << 20}, DType::F32, kGpu); }
    size_t calls = cuda::pool_stats().cuda_malloc_calls;
    { Tensor b = Tensor::empty({1 << 20}, DType::F32, kGpu); }
    CHECK(cuda::pool_stats().cuda_malloc_calls == calls);
}

int main(int argc, char** argv) {
    if (!cuda::available()) {
        std::printf("no CUDA device (or built without CUDA): skipping\n");
        return 77;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
