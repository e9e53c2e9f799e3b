// Elementwise ops against naive references, over broadcasting, strided
// inputs and zero-size dims.
#include <cmath>

#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

static double ref_unary(UnaryOp op, double x) {
    switch (op) {
        case UnaryOp::Neg: return -x;
        case UnaryOp::Exp: return std::exp(x);
        case UnaryOp::Log: return std::log(x);
        case UnaryOp::Tanh: return std::tanh(x);
        case UnaryOp::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
        case UnaryOp::Relu: return x > 0 ? x : 0;
        case UnaryOp::Sqrt: return std::sqrt(x);
        case UnaryOp::Abs: return std::fabs(x);
        case UnaryOp::Square: return x * x;
        case UnaryOp::Softplus: return std::log(1.0 + std::exp(x));
        case UnaryOp::Log1p: return std::log(1.0 + x);
        case UnaryOp::Sign: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    }
    return 0;
}

static const UnaryOp kUnary[] = {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Tanh, UnaryOp::Sigmoid,
                                 UnaryOp::Relu, UnaryOp::Sqrt, UnaryOp::Abs, UnaryOp::Square, UnaryOp::Softplus,
                                 UnaryOp::Log1p, UnaryOp::Sign};

static Tensor ref_unary_tensor(UnaryOp op, const Tensor& x) {
    std::vector<double> v = x.to_vector();
    for (double& e : v) e = ref_unary(op, e);
    return Tensor::from_vector(v, x.shape());
}

TEST_CASE("unary ops match std:: on contiguous inputs, f32 and f64") {
    Generator gen(2);
    for (UnaryOp op : kUnary) {
        CAPTURE(op_name(op));
        bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt;
        Tensor x = random_tensor({3, 17}, gen, DType::F64, positive ? 0.1 : -3.0, 3.0);
        CHECK_CLOSE(unary(op, x), ref_unary_tensor(op, x), 1e-12, 1e-12);
        CHECK_CLOSE(unary(op, x.to(DType::F32)), ref_unary_tensor(op, x), 1e-5, 1e-6);
    }
}

TEST_CASE("unary ops read strided inputs correctly") {
    Generator gen(3);
    Tensor x = random_tensor({5, 6, 4}, gen, DType::F64, 0.1, 2.0).permute({2, 0, 1}).slice(2, 0, 6, 2);
    REQUIRE_FALSE(x.is_contiguous());
    for (UnaryOp op : kUnary) CHECK_CLOSE(unary(op, x), ref_unary_tensor(op, x.contiguous()), 1e-12, 1e-12);
}

TEST_CASE("sigmoid and softplus stay finite for large inputs") {
    Tensor x = Tensor::from_vector(std::vector<double>{-1000, -40, 0, 40, 1000}, {5});
    auto s = sigmoid(x).to_vector();
    CHECK(s[0] == 0.0);
    CHECK(s[2] == 0.5);
    CHECK(s[4] == 1.0);
    auto sp = softplus(x).to_vector();
    CHECK(sp[0] == doctest::Approx(0.0));
    CHECK(sp[4] == doctest::Approx(1000.0));
    CHECK(std::isfinite(sp[4]));
}

struct BinaryRef {
    BinaryOp op;
    std::function<double(double, double)> f;
};
static const std::vector<BinaryRef> kBinary = {
    {BinaryOp::Add, [](double a, double b) { return a + b; }},
    {BinaryOp::Sub, [](double a, double b) { return a - b; }},
    {BinaryOp::Mul, [](double a, double b) { return a * b; }},
    {BinaryOp::Div, [](double a, double b) { return a / b; }},
    {BinaryOp::Pow, [](double a, double b) { return std::pow(a, b); }},
    {BinaryOp::Max, [](double a, double b) { return std::max(a, b); }},
    {BinaryOp::Min, [](double a, double b) { return std::min(a, b); }},
    {BinaryOp::Eq, [](double a, double b) { return double(a == b); }},
    {BinaryOp::Ne, [](double a, double b) { return double(a != b); }},
    {BinaryOp::Lt, [](double a, double b) { return double(a < b); }},
    {BinaryOp::Le, [](double a, double b) { return double(a <= b); }},
    {BinaryOp::Gt, [](double a, double b) { return double(a > b); }},
    {BinaryOp::Ge, [](double a, double b) { return double(a >= b); }},
    {BinaryOp::ReluGrad, [](double a, double b) { return b > 0 ? a : 0.0; }},
};

TEST_CASE("binary ops match a naive reference on equal shapes") {
    Generator gen(4);
    for (const auto& [op, f] : kBinary) {
        CAPTURE(op_name(op));
        Tensor a = random_tensor({4, 9}, gen, DType::F64, 0.5, 2.0);
        Tensor b = random_tensor({4, 9}, gen, DType::F64, 0.5, 2.0);
        CHECK_CLOSE(binary(op, a, b), naive_binary(a, b, f), 1e-12, 1e-12);
    }
}

TEST_CASE("relu_backward passes the gradient where the output is positive, and only there") {
    Tensor g = Tensor::from_vector(std::vector<double>{1.5, -2.0, 3.0, NAN, 4.0}, {5});
    Tensor y = Tensor::from_vector(std::vector<double>{0.5, 2.0, 0.0, -1.0, -0.0}, {5});
    // y == 0 (either sign) passes nothing, and a NaN gradient is dropped where y <= 0
    CHECK(relu_backward(g, y).to_vector() == std::vector<double>{1.5, -2.0, 0.0, 0.0, 0.0});
    // f32, broadcast y
    Tensor g32 = Tensor::ones({2, 3}, DType::F32);
    Tensor y32 = Tensor::from_vector(std::vector<double>{1.0, -1.0, 2.0}, {3}).to(DType::F32);
    CHECK(relu_backward(g32, y32).to_vector() == std::vector<double>{1, 0, 1, 1, 0, 1});
}

TEST_CASE("broadcasting follows NumPy on a table of shape pairs") {
    Generator gen(5);
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3, 4}, {4}},       {{3, 1}, {1, 4}},       {{2, 3, 4}, {3, 1}}, {{}, {2, 3}},
        {{5, 1, 3}, {4, 1}}, {{1}, {7}},             {{2, 1, 1, 3}, {1, 4, 1}},
    };
    for (const auto& [sa, sb] : cases) {
        CAPTURE(shape_str(sa));
        CAPTURE(shape_str(sb));
        Tensor a = random_tensor(sa, gen), b = random_tensor(sb, gen);
        for (const auto& [op, f] : kBinary) {
            if (op == BinaryOp::Pow) continue;  // negative bases
            CHECK_CLOSE(binary(op, a, b), naive_binary(a, b, f), 1e-12, 1e-12);
            CHECK_CLOSE(binary(op, b, a), naive_binary(b, a, f), 1e-12, 1e-12);
        }
    }
}

TEST_CASE("broadcasting works on non-contiguous views") {
    Generator gen(6);
    Tensor a = random_tensor({6, 5}, gen).t();                   // [5, 6] transposed
    Tensor b = random_tensor({6, 2}, gen).narrow(1, 1, 1).t();   // [1, 6] strided
    Tensor c = random_tensor({3}, gen).unsqueeze(1).expand({3, 4}).slice(1, 0, 4, 2);  // stride-0 view
    auto add_f = [](double x, double y) { return x + y; };
    auto mul_f = [](double x, double y) { return x * y; };
    CHECK_CLOSE(add(a, b), naive_binary(a.contiguous(), b.contiguous(), add_f), 1e-12, 1e-12);
    CHECK_CLOSE(mul(c, c), naive_binary(c.contiguous(), c.contiguous(), mul_f), 1e-12, 1e-12);
}

TEST_CASE("zero-size dims give empty results without touching memory") {
    Tensor a = Tensor::ones({0, 3});
    Tensor b = Tensor::ones({3});
    CHECK(add(a, b).shape() == Shape{0, 3});
    CHECK(exp(a).numel() == 0);
    CHECK(add(Tensor::ones({2, 0}), Tensor::ones({1, 0})).shape() == Shape{2, 0});
}

TEST_CASE("a broadcast mismatch names the op and both shapes") {
    Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4});
    CHECK(message_contains([&] { add(a, b); }, "add: shapes cannot be broadcast together (got [2, 3] and [4])"));
    CHECK(message_contains([&] { mul(a, Tensor::ones({2, 3}, DType::F64)); }, "dtypes differ"));
}

TEST_CASE("in-place ops broadcast the second operand only") {
    Tensor a = Tensor::zeros({2, 3});
    add_(a, Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}));
    CHECK(a.to_vector() == std::vector<double>{1, 2, 3, 1, 2, 3});
    mul_(a, 2.0);
    CHECK(a.to_vector() == std::vector<double>{2, 4, 6, 2, 4, 6});
    Tensor small = Tensor::zeros({3});
    CHECK(message_contains([&] { add_(small, a); }, "in-place"));
}

TEST_CASE("scalar forms and i64 arithmetic") {
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
    CHECK(add(x, 1.0).to_vector() == std::vector<double>{2, 3, 4});
    CHECK(pow(x, 2.0).to_vector() == std::vector<double>{1, 4, 9});
    CHECK(gt(x, 1.5).to_vector() == std::vector<double>{0, 1, 1});
    Tensor i = Tensor::from_vector(std::vector<int64_t>{5, -3}, {2});
    CHECK(mul(i, i).to_ints() == std::vector<int64_t>{25, 9});
    CHECK(abs(i).to_ints() == std::vector<int64_t>{5, 3});
    CHECK(message_contains([&] { exp(i); }, "floating"));
}
