// The CPU thread pool and the kernels that split work across it: every index
// runs exactly once, errors reach the caller, and results with several
// threads match the one-thread results (bit for bit for elementwise ops, to
// rounding for GEMM-based ones) and repeat exactly at a fixed thread count.
// Also the vectorisable float32 exp / tanh / sigmoid against libm.
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/fast_math.hpp"
#include "tensor/parallel.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

namespace {

// Sets the pool size for one scope and restores it after.
struct ThreadsFor {
    int saved = num_threads();
    explicit ThreadsFor(int n) { set_num_threads(n); }
    ~ThreadsFor() { set_num_threads(saved); }
};

bool bit_equal(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

}  // namespace

TEST_CASE("parallel_for covers every index once, in parts that follow the documented split") {
    ThreadsFor threads(3);
    for (int64_t n : {1, 2, 7, 1000, 100003}) {
        CAPTURE(n);
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        const int64_t parts = parallel_parts(n, 10);
        CHECK(parts == std::min<int64_t>(3, std::max<int64_t>(1, n / 10)));
        parallel_for(n, 10, [&](int64_t part, int64_t b, int64_t e) {
            CHECK(b == part * n / parts);
            CHECK(e == (part + 1) * n / parts);
            for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        });
        int64_t wrong = 0;
        for (auto& h : hits) wrong += h.load() != 1;
        CHECK(wrong == 0);
    }
}

TEST_CASE("parallel_for rethrows a part's exception and runs nested calls inline") {
    ThreadsFor threads(2);
    CHECK_THROWS_WITH_AS(parallel_for(100, 1, [](int64_t part, int64_t, int64_t) {
                             if (part == 1) throw std::runtime_error("part one failed");
                         }),
                         "part one failed", std::runtime_error);
    // the pool still works after an error
    std::atomic<int64_t> total{0};
    parallel_for(100, 1, [&](int64_t, int64_t b, int64_t e) {
        CHECK(parallel_parts(1000, 1) == 1);  // inside a part: no nesting
        total += e - b;
    });
    CHECK(total.load() == 100);
}

TEST_CASE("elementwise ops and copies give the same bits with 1 and 2 threads") {
    Generator gen(5);
    // large enough to be split; one operand strided, one broadcast
    Tensor a = random_tensor({64, 33, 40}, gen, DType::F32);
    Tensor b = random_tensor({33, 1}, gen, DType::F32);
    Tensor strided = random_tensor({40, 64, 33}, gen, DType::F32).permute({1, 2, 0});
    Tensor serial_sum, serial_tanh, serial_copy;
    {
        ThreadsFor one(1);
        serial_sum = add(a, b);
        serial_tanh = tanh(strided);
        serial_copy = strided.contiguous();
    }
    ThreadsFor two(2);
    CHECK(bit_equal(add(a, b), serial_sum));
    CHECK(bit_equal(tanh(strided), serial_tanh));
    CHECK(bit_equal(strided.contiguous(), serial_copy));
}

TEST_CASE("conv2d, its gradients and matmul agree between 1 and 3 threads") {
    Generator gen(6);
    Tensor x = random_tensor({9, 5, 11, 10}, gen, DType::F32);
    Tensor w = random_tensor({7, 5, 3, 3}, gen, DType::F32);
    Tensor bias = random_tensor({7}, gen, DType::F32);
    Conv2dParams p{2, 1, 1, 1};
    Tensor m1 = random_tensor({300, 200}, gen, DType::F32), m2 = random_tensor({200, 150}, gen, DType::F32);
    Tensor y1, gx1, gw1, mm1;
    {
        ThreadsFor one(1);
        y1 = conv2d(x, w, bias, p);
        gx1 = conv2d_input_grad(y1, w, x.shape(), p);
        gw1 = conv2d_weight_grad(x, y1, w.shape(), p);
        mm1 = matmul(m1, m2);
    }
    ThreadsFor three(3);
    // OpenBLAS picks its kernels by matrix size (small sizes have their own),
    // so a smaller GEMM per part may round differently: close, not bit-equal.
    Tensor y3 = conv2d(x, w, bias, p), gx3 = conv2d_input_grad(y1, w, x.shape(), p);
    Tensor gw3 = conv2d_weight_grad(x, y1, w.shape(), p), mm3 = matmul(m1, m2);
    CHECK_CLOSE(y3, y1, 1e-5, 1e-5);
    CHECK_CLOSE(gx3, gx1, 1e-5, 1e-5);
    CHECK_CLOSE(gw3, gw1, 1e-5, 1e-5);
    CHECK_CLOSE(mm3, mm1, 1e-5, 1e-5);
    // and with the same thread count, the same bits every time
    CHECK(bit_equal(conv2d(x, w, bias, p), y3));
    CHECK(bit_equal(conv2d_input_grad(y1, w, x.shape(), p), gx3));
    CHECK(bit_equal(conv2d_weight_grad(x, y1, w.shape(), p), gw3));
    CHECK(bit_equal(matmul(m1, m2), mm3));
}

TEST_CASE("float32 fast exp, tanh and sigmoid stay within a few ulp of libm") {
    double worst_exp = 0, worst_tanh = 0, worst_sigmoid = 0;
    for (float x = -87.0f; x < 88.5f; x += 3.7e-4f) {
        const double xd = x, e = std::exp(xd), t = std::tanh(xd), s = 1.0 / (1.0 + std::exp(-xd));
        worst_exp = std::max(worst_exp, std::fabs(fast::exp(x) - e) / e);
        if (x != 0) worst_tanh = std::max(worst_tanh, std::fabs(fast::tanh(x) - t) / std::fabs(t));
        if (s > 1e-37) worst_sigmoid = std::max(worst_sigmoid, std::fabs(fast::sigmoid(x) - s) / s);
    }
    for (float x : {1e-30f, -1e-7f, 3e-4f, 0.6249f, 0.6251f, -0.6251f}) {  // around tanh's switch
        const double t = std::tanh(double(x));
        worst_tanh = std::max(worst_tanh, std::fabs(fast::tanh(x) - t) / std::fabs(t));
    }
    const double ulp = std::numeric_limits<float>::epsilon();
    CHECK(worst_exp < 4 * ulp);
    CHECK(worst_tanh < 4 * ulp);
    CHECK(worst_sigmoid < 4 * ulp);

    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    CHECK(std::isnan(fast::exp(nan)));
    CHECK(std::isnan(fast::tanh(nan)));
    CHECK(std::isnan(fast::sigmoid(nan)));
    CHECK(fast::exp(inf) == inf);
    CHECK(fast::exp(100.0f) == inf);
    CHECK(fast::exp(-inf) == 0.0f);
    CHECK(fast::exp(-200.0f) == 0.0f);
    CHECK(fast::exp(0.0f) == 1.0f);
    CHECK(fast::tanh(inf) == 1.0f);
    CHECK(fast::tanh(-inf) == -1.0f);
    CHECK(fast::sigmoid(inf) == 1.0f);
    CHECK(fast::sigmoid(-inf) == 0.0f);
}
