// Reductions and matmul against naive loops.
#include <cmath>
#include <limits>

#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

// Naive reduction of a 3-D tensor over a subset of dims, in double.
static Tensor naive_reduce3(const Tensor& x, std::vector<bool> mask, bool is_max) {
    Shape s = x.shape();
    Shape out = {mask[0] ? 1 : s[0], mask[1] ? 1 : s[1], mask[2] ? 1 : s[2]};
    std::vector<double> v = x.to_vector();
    std::vector<double> o(size_t(shape_numel(out)), is_max ? -INFINITY : 0.0);
    for (int64_t i = 0; i < s[0]; ++i)
        for (int64_t j = 0; j < s[1]; ++j)
            for (int64_t k = 0; k < s[2]; ++k) {
                int64_t oi = ((mask[0] ? 0 : i) * out[1] + (mask[1] ? 0 : j)) * out[2] + (mask[2] ? 0 : k);
                double e = v[(i * s[1] + j) * s[2] + k];
                o[oi] = is_max ? std::max(o[oi], e) : o[oi] + e;
            }
    return Tensor::from_vector(o, out);
}

TEST_CASE("sum and max over every subset of dims, keepdim and not") {
    Generator gen(7);
    Tensor x = random_tensor({3, 5, 4}, gen);
    for (int m = 1; m < 8; ++m) {
        std::vector<bool> mask = {bool(m & 1), bool(m & 2), bool(m & 4)};
        std::vector<int64_t> dims;
        for (int d = 0; d < 3; ++d)
            if (mask[d]) dims.push_back(d);
        CAPTURE(m);
        Tensor ref_sum = naive_reduce3(x, mask, false), ref_max = naive_reduce3(x, mask, true);
        CHECK_CLOSE(sum(x, dims, true), ref_sum, 1e-12, 1e-12);
        CHECK_CLOSE(max(x, dims, true), ref_max, 0, 0);
        CHECK(sum(x, dims, false).numel() == ref_sum.numel());
        CHECK(sum(x, dims, false).dim() == 3 - int64_t(dims.size()));
        // the same on a permuted, non-contiguous view
        Tensor xp = x.permute({2, 0, 1});
        std::vector<int64_t> pdims;
        for (int64_t d : dims) pdims.push_back(d == 2 ? 0 : d + 1);
        CHECK_CLOSE(sum(xp, pdims, true).permute({1, 2, 0}).contiguous(), ref_sum, 1e-12, 1e-12);
    }
}

TEST_CASE("sum over all dims, mean and min") {
    Tensor x = Tensor::arange(10).view({2, 5});
    CHECK(sum(x).item() == 45.0);
    CHECK(sum(x).dim() == 0);
    CHECK(mean(x, {1}).to_vector() == std::vector<double>{2, 7});
    CHECK(min(x, {0}).to_vector() == std::vector<double>{0, 1, 2, 3, 4});
    CHECK(message_contains([&] { sum(x, {2}); }, "out of range"));
}

TEST_CASE("argmax and argmin take the first of equal values") {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 3, 0, 0, -1, 5, 5}, {2, 4});
    CHECK(argmax(x, 1).to_ints() == std::vector<int64_t>{1, 2});
    CHECK(argmin(x, 1).to_ints() == std::vector<int64_t>{3, 1});
    CHECK(argmax(x, 0).to_ints() == std::vector<int64_t>{0, 0, 1, 1});
    CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
}

TEST_CASE("argmax and argmin on long rows match a sequential scan, ties, NaN and inf included") {
    // the sequential scan the vectorised kernel must agree with: first index
    // wins ties, a NaN never becomes the answer unless it comes first
    auto scan = [](const std::vector<double>& v, int64_t n, bool want_max) {
        std::vector<int64_t> out;
        for (size_t r = 0; r < v.size() / size_t(n); ++r) {
            const double* row = v.data() + r * size_t(n);
            int64_t best = 0;
            for (int64_t i = 1; i < n; ++i)
                if (want_max ? row[i] > row[best] : row[i] < row[best]) best = i;
            out.push_back(best);
        }
        return out;
    };
    Generator gen(21);
    for (int64_t n : {1, 5, 16, 37, 512}) {
        CAPTURE(n);
        std::vector<double> v(size_t(6 * n));
        for (double& e : v) e = double(gen.randint(7)) - 3;  // few distinct values: many ties
        // row 1: NaNs inside; row 2: a leading NaN; row 3: infinities; row 4: all equal
        for (int64_t i = 0; i < n; i += 3) v[size_t(n + i)] = NAN;
        v[size_t(n)] = 1.0;
        v[size_t(2 * n)] = NAN;
        v[size_t(3 * n + n / 2)] = INFINITY;
        v[size_t(3 * n + n - 1)] = -INFINITY;
        std::fill(v.begin() + 4 * n, v.begin() + 5 * n, 2.0);
        for (DType dt : {DType::F64, DType::F32}) {
            Tensor x = Tensor::from_vector(v, {6, n}).to(dt);
            CHECK(argmin(x, 1).to_ints() == scan(v, n, false));
            CHECK(argmax(x, 1).to_ints() == scan(v, n, true));
        }
    }
}

TEST_CASE("logsumexp is stable for large and -inf inputs") {
    Tensor x = Tensor::from_vector(std::vector<double>{1000, 1000, -INFINITY, -INFINITY, 0, std::log(3.0)}, {3, 2});
    auto r = logsumexp(x, {1}).to_vector();
    CHECK(r[0] == doctest::Approx(1000 + std::log(2.0)));
    CHECK(r[1] == -INFINITY);
    CHECK(r[2] == doctest::Approx(std::log(4.0)));
    Generator gen(8);
    Tensor y = random_tensor({4, 6}, gen);
    CHECK_CLOSE(logsumexp(y, {0}), log(sum(exp(y), {0})), 1e-12, 1e-12);
}

TEST_CASE("zero-size reductions: sum is 0, max refuses") {
    Tensor e = Tensor::ones({3, 0});
    CHECK(sum(e, {1}).to_vector() == std::vector<double>{0, 0, 0});
    CHECK(message_contains([&] { max(e, {1}); }, "zero-size"));
}

TEST_CASE("sum_to undoes broadcasting") {
    Tensor g = Tensor::ones({2, 3, 4});
    CHECK(sum_to(g, {3, 1}).to_vector() == std::vector<double>{8, 8, 8});
    CHECK(sum_to(g, {4}).to_vector() == std::vector<double>{6, 6, 6, 6});
    CHECK(sum_to(g, {}).item() == 24.0);
    CHECK(message_contains([&] { sum_to(g, {5}); }, "broadcast source"));
}

static Tensor naive_matmul(const Tensor& a, const Tensor& b) {
    int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    std::vector<double> x = a.to_vector(), y = b.to_vector(), o(size_t(M * N), 0.0);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j)
            for (int64_t k = 0; k < K; ++k) o[i * N + j] += x[i * K + k] * y[k * N + j];
    return Tensor::from_vector(o, {M, N});
}

TEST_CASE("matmul matches a triple loop on random shapes, f32 and f64") {
    Generator gen(9);
    for (int trial = 0; trial < 6; ++trial) {
        int64_t M = 1 + gen.randint(17), K = 1 + gen.randint(17), N = 1 + gen.randint(17);
        Tensor a = random_tensor({M, K}, gen), b = random_tensor({K, N}, gen);
        CHECK_CLOSE(matmul(a, b), naive_matmul(a, b), 1e-12, 1e-12);
        CHECK_CLOSE(matmul(a.to(DType::F32), b.to(DType::F32)), naive_matmul(a, b), 1e-5, 1e-5);
    }
}

TEST_CASE("matmul reads transposed and sliced operands") {
    Generator gen(10);
    Tensor at = random_tensor({7, 5}, gen).t();        // [5, 7], column-major
    Tensor bt = random_tensor({3, 7}, gen).t();        // [7, 3]
    Tensor bs = random_tensor({7, 9}, gen).narrow(1, 2, 4);  // row stride 9
    CHECK_CLOSE(matmul(at, bt), naive_matmul(at.contiguous(), bt.contiguous()), 1e-12, 1e-12);
    CHECK_CLOSE(matmul(at, bs), naive_matmul(at.contiguous(), bs.contiguous()), 1e-12, 1e-12);
    Tensor odd = random_tensor({5, 14}, gen).slice(1, 0, 14, 2);  // column stride 2: copied
    CHECK_CLOSE(matmul(odd, bt), naive_matmul(odd.contiguous(), bt.contiguous()), 1e-12, 1e-12);
}

TEST_CASE("batched matmul, and a batch times a matrix") {
    Generator gen(11);
    Tensor a = random_tensor({3, 4, 5}, gen), b = random_tensor({3, 5, 2}, gen), w = random_tensor({5, 6}, gen);
    Tensor c = matmul(a, b);
    Tensor d = matmul(a, w);
    for (int64_t i = 0; i < 3; ++i) {
        CHECK_CLOSE(c.select(0, i).contiguous(), naive_matmul(a.select(0, i), b.select(0, i)), 1e-12, 1e-12);
        CHECK_CLOSE(d.select(0, i).contiguous(), naive_matmul(a.select(0, i), w), 1e-12, 1e-12);
    }
    CHECK_CLOSE(matmul(a.transpose(1, 2), a), matmul(a.transpose(1, 2).contiguous(), a), 1e-12, 1e-12);
}

TEST_CASE("matmul with an empty inner dim gives zeros") {
    Tensor a = Tensor::ones({2, 0}), b = Tensor::ones({0, 3});
    CHECK(matmul(a, b).to_vector() == std::vector<double>(6, 0.0));
}

TEST_CASE("matmul shape errors show both shapes") {
    Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 5});
    CHECK(message_contains([&] { matmul(a, b); }, "matmul: inner dims differ (got [2, 3] and [4, 5])"));
    CHECK(message_contains([&] { matmul(Tensor::ones({3}), b); }, "[3]"));
}
