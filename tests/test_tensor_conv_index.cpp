// Convolutions against the naive oracle over a grid of strides, paddings and
// kernel sizes; gradients via the adjoint identity <A x, y> = <x, A^T y>.
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

static double dot(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item(); }

TEST_CASE("conv2d matches the naive oracle over stride, padding and kernel") {
    Generator gen(12);
    for (int64_t k : {1, 3, 4})
        for (int64_t s : {1, 2})
            for (int64_t p : {0, 1, 2})
                for (int64_t hw : {7, 8}) {
                    CAPTURE(k); CAPTURE(s); CAPTURE(p); CAPTURE(hw);
                    Tensor x = random_tensor({2, 3, hw, hw + 1}, gen), w = random_tensor({4, 3, k, k}, gen);
                    Tensor b = random_tensor({4}, gen);
                    Conv2dParams cp = Conv2dParams::square(s, p);
                    CHECK_CLOSE(conv2d(x, w, b, cp), conv2d_naive(x, w, b, cp), 1e-10, 1e-10);
                }
}

TEST_CASE("conv2d in f32 and with PixelCNN's rectangular kernels") {
    Generator gen(13);
    Tensor x = random_tensor({2, 4, 7, 7}, gen);
    Tensor wv = random_tensor({6, 4, 2, 3}, gen), wh = random_tensor({6, 4, 1, 2}, gen);
    Conv2dParams pv{1, 1, 1, 1}, ph{1, 1, 0, 1};
    Tensor yv = conv2d(x, wv, Tensor(), pv);
    CHECK(yv.shape() == Shape{2, 6, 8, 7});
    CHECK_CLOSE(yv, conv2d_naive(x, wv, Tensor(), pv), 1e-10, 1e-10);
    CHECK_CLOSE(conv2d(x, wh, Tensor(), ph), conv2d_naive(x, wh, Tensor(), ph), 1e-10, 1e-10);
    CHECK_CLOSE(conv2d(x.to(DType::F32), wv.to(DType::F32), Tensor(), pv), conv2d_naive(x, wv, Tensor(), pv), 1e-4, 1e-5);
}

TEST_CASE("conv_transpose2d matches the naive oracle") {
    Generator gen(14);
    for (int64_t k : {1, 3, 4})
        for (int64_t s : {1, 2})
            for (int64_t p : {0, 1, 2}) {
                if (p >= k) continue;
                CAPTURE(k); CAPTURE(s); CAPTURE(p);
                Tensor x = random_tensor({2, 3, 5, 6}, gen), w = random_tensor({3, 2, k, k}, gen);
                Tensor b = random_tensor({2}, gen);
                Conv2dParams cp = Conv2dParams::square(s, p);
                CHECK_CLOSE(conv_transpose2d(x, w, b, cp), conv_transpose2d_naive(x, w, b, cp), 1e-10, 1e-10);
            }
}

TEST_CASE("conv2d input and weight gradients are the adjoints of conv2d") {
    Generator gen(15);
    for (int64_t k : {1, 3, 4})
        for (int64_t s : {1, 2})
            for (int64_t p : {0, 1}) {
                CAPTURE(k); CAPTURE(s); CAPTURE(p);
                Conv2dParams cp = Conv2dParams::square(s, p);
                Tensor x = random_tensor({2, 3, 9, 8}, gen), w = random_tensor({5, 3, k, k}, gen);
                Tensor y = conv2d(x, w, Tensor(), cp);
                Tensor gy = random_tensor(y.shape(), gen);
                Tensor gx = conv2d_input_grad(gy, w, x.shape(), cp);
                Tensor gw = conv2d_weight_grad(x, gy, w.shape(), cp);
                CHECK(gx.shape() == x.shape());
                CHECK(dot(y, gy) == doctest::Approx(dot(x, gx)).epsilon(1e-10));
                CHECK(dot(y, gy) == doctest::Approx(dot(w, gw)).epsilon(1e-10));
            }
}

TEST_CASE("the reference models' conv shapes (the fixed-width row kernels) match the oracle") {
    // (channels, size, kernel, stride, pad): output widths 7 and 14 at stride 1 and 2, as in the VQ-VAE
    struct Case {
        int64_t C, hw, k, s, p;
    };
    Generator gen(17);
    for (Case c : {Case{3, 7, 3, 1, 1}, Case{3, 14, 4, 2, 1}, Case{2, 28, 4, 2, 1}, Case{2, 14, 3, 1, 1}}) {
        CAPTURE(c.hw); CAPTURE(c.k); CAPTURE(c.s);
        Conv2dParams cp = Conv2dParams::square(c.s, c.p);
        Tensor x = random_tensor({2, c.C, c.hw, c.hw}, gen), w = random_tensor({4, c.C, c.k, c.k}, gen);
        Tensor b = random_tensor({4}, gen);
        Tensor y = conv2d(x, w, b, cp);
        CHECK_CLOSE(y, conv2d_naive(x, w, b, cp), 1e-10, 1e-10);
        // the transposed conv maps y's shape back to x's (col2im on the same rows)
        Tensor wt = random_tensor({4, c.C, c.k, c.k}, gen), bt = random_tensor({c.C}, gen);
        CHECK_CLOSE(conv_transpose2d(y, wt, bt, cp), conv_transpose2d_naive(y, wt, bt, cp), 1e-10, 1e-10);
        Tensor gy = random_tensor(y.shape(), gen);
        Tensor y0 = conv2d(x, w, Tensor(), cp);
        CHECK(dot(y0, gy) == doctest::Approx(dot(x, conv2d_input_grad(gy, w, x.shape(), cp))).epsilon(1e-10));
        CHECK(dot(y0, gy) == doctest::Approx(dot(w, conv2d_weight_grad(x, gy, w.shape(), cp))).epsilon(1e-10));
    }
}

TEST_CASE("conv_transpose2d is the input gradient of conv2d") {
    Generator gen(16);
    Conv2dParams cp = Conv2dParams::square(2, 1);
    Tensor g = random_tensor({2, 4, 7, 7}, gen), w = random_tensor({4, 3, 4, 4}, gen);
    CHECK_CLOSE(conv_transpose2d(g, w, Tensor(), cp), conv2d_input_grad(g, w, {2, 3, 14, 14}, cp), 1e-12, 1e-12);
}

TEST_CASE("conv shape errors show both shapes") {
    Tensor x = Tensor::ones({1, 3, 8, 8}), w = Tensor::ones({4, 2, 3, 3});
    CHECK(message_contains([&] { conv2d(x, w, Tensor(), {}); },
                           "conv2d: input channels (dim 1) differ (got [1, 3, 8, 8] and [4, 2, 3, 3])"));
    CHECK(message_contains([&] { conv2d(Tensor::ones({3, 8, 8}), w, Tensor(), {}); }, "[3, 8, 8]"));
    CHECK(message_contains([&] { conv2d(x, Tensor::ones({4, 3, 9, 9}), Tensor(), {}); }, "larger"));
    CHECK(message_contains([&] { conv_transpose2d(x, w, Tensor(), {}); }, "conv_transpose2d"));
    CHECK(message_contains([&] { conv2d(x, Tensor::ones({4, 3, 3, 3}), Tensor::ones({5}), {}); }, "bias"));
}

TEST_CASE("index_select and index_add are adjoint") {
    Generator gen(17);
    Tensor x = random_tensor({6, 4}, gen);
    Tensor idx = Tensor::from_vector(std::vector<int64_t>{5, 0, 5, 2}, {4});
    Tensor y = index_select(x, 0, idx);
    CHECK(y.shape() == Shape{4, 4});
    CHECK(y.at({0, 1}) == x.at({5, 1}));
    CHECK(y.at({2, 3}) == x.at({5, 3}));
    Tensor gy = random_tensor(y.shape(), gen);
    Tensor gx = index_add(x.shape(), 0, idx, gy);
    CHECK(dot(y, gy) == doctest::Approx(dot(x, gx)).epsilon(1e-12));
    Tensor cols = index_select(x, 1, Tensor::from_vector(std::vector<int64_t>{3, 1}, {2}));
    CHECK(cols.at({4, 0}) == x.at({4, 3}));
}

TEST_CASE("gather and scatter_add are adjoint") {
    Generator gen(18);
    Tensor x = random_tensor({3, 5, 2}, gen);
    Tensor idx = randint({3, 4, 2}, 5, gen);
    Tensor y = gather(x, 1, idx);
    CHECK(y.at({2, 3, 1}) == x.at({2, idx.to_ints()[(2 * 4 + 3) * 2 + 1], 1}));
    Tensor gy = random_tensor(y.shape(), gen);
    Tensor gx = scatter_add(x.shape(), 1, idx, gy);
    CHECK(dot(y, gy) == doctest::Approx(dot(x, gx)).epsilon(1e-12));
}

TEST_CASE("out-of-range indices are reported with the range") {
    Tensor x = Tensor::ones({4, 2});
    Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, 4}, {2});
    CHECK(message_contains([&] { index_select(x, 0, bad); }, "index 4 out of range [0, 4)"));
    CHECK(message_contains([&] { gather(x, 1, Tensor::from_vector(std::vector<int64_t>{0, 2, 0, 0, 1, 1, 0, 0}, {4, 2})); },
                           "out of range"));
    CHECK(message_contains([&] { index_select(x, 0, Tensor::ones({2})); }, "i64"));
}

TEST_CASE("the RNG is reproducible and splitmix64 matches its published vector") {
    // splitmix64 from state 0: the first output is 0xE220A8397B1DCDAF
    // (Vigna's reference implementation, next() with x = 0).
    CHECK(splitmix64(0) == 0xE220A8397B1DCDAFull);
    Generator a(42), b(42), c(43);
    std::vector<uint64_t> va, vb, vc;
    for (int i = 0; i < 5; ++i) va.push_back(a.next_u64()), vb.push_back(b.next_u64()), vc.push_back(c.next_u64());
    CHECK(va == vb);
    CHECK(va != vc);
    Generator d(7);
    auto st = d.state();
    double first = d.uniform();
    d.set_state(st);
    CHECK(d.uniform() == first);
}

TEST_CASE("random distributions have the right moments and ranges") {
    Generator gen(19);
    Tensor u = rand_uniform({20000}, 2.0, 4.0, gen, DType::F64);
    CHECK(mean(u).item() == doctest::Approx(3.0).epsilon(0.01));
    CHECK(min(u).item() >= 2.0);
    CHECK(max(u).item() < 4.0);
    Tensor n = rand_normal({20000}, 1.0, 2.0, gen, DType::F64);
    CHECK(mean(n).item() == doctest::Approx(1.0).epsilon(0.05));
    double var = mean(square(sub(n, mean(n)))).item();
    CHECK(var == doctest::Approx(4.0).epsilon(0.05));
    Tensor p = Tensor::full({20000}, 0.3, DType::F64);
    CHECK(mean(bernoulli(p, gen)).item() == doctest::Approx(0.3).epsilon(0.05));
    Tensor perm = randperm(50, gen);
    std::vector<int64_t> v = perm.to_ints();
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < 50; ++i) CHECK(v[i] == i);
    Tensor r = randint({1000}, 7, gen);
    CHECK(min(r).item() == 0);
    CHECK(max(r).item() == 6);
}
