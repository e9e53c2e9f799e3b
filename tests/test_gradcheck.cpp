// The gradient-check table: every differentiable op, in f64, against central
// finite differences, on random inputs with broadcasting and non-contiguous
// views. Kinks are kept away from explicitly (ReLU/abs inputs away from 0,
// max inputs well separated).
#include <set>
#include <string>

#include "autograd/ops.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace ag = vq::ag;

namespace {

struct InputSpec {
    Shape shape;
    double lo = -1.0, hi = 1.0;
    bool transposed = false;  // hand the op a non-contiguous (transposed) view
    bool away_from_zero = false;  // push values to |x| >= 0.2 (kinks at 0)
};

struct GradCase {
    std::string name;
    std::vector<InputSpec> inputs;
    std::function<ag::Var(const std::vector<ag::Var>&)> fn;
};

Tensor make_input(const InputSpec& s, Generator& gen) {
    Shape shape = s.shape;
    if (s.transposed) std::swap(shape[0], shape[1]);
    Tensor t = random_tensor(shape, gen, DType::F64, s.lo, s.hi);
    if (s.away_from_zero) {
        double* p = t.data<double>();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = (p[i] >= 0 ? 0.2 : -0.2) + p[i];
    }
    return s.transposed ? t.t() : t;
}

std::set<std::string> g_ops_seen;

void collect_ops(const ag::Var& v) {
    std::vector<ag::Node*> stack = {v.node().get()};
    std::set<ag::Node*> seen;
    while (!stack.empty()) {
        ag::Node* n = stack.back();
        stack.pop_back();
        if (!seen.insert(n).second) continue;
        g_ops_seen.insert(n->op);
        for (auto& in : n->inputs) stack.push_back(in.get());
    }
}

// loss = sum(f(inputs) * w) for a fixed random w, so every output element
// gets a different weight and errors cannot cancel.
void check_case(const GradCase& c, Generator& gen) {
    CAPTURE(c.name);
    std::vector<Tensor> values;
    for (const auto& s : c.inputs) values.push_back(make_input(s, gen));
    std::vector<ag::Var> vars;
    for (auto& v : values) vars.push_back(ag::Var(v, true));
    ag::Var out = c.fn(vars);
    Tensor weights = random_tensor(out.shape(), gen);
    auto loss_of = [&](const std::vector<ag::Var>& in) {
        ag::NoGradGuard ng;
        return sum(mul(c.fn(in).value(), weights)).item();
    };
    ag::Var loss = ag::sum(ag::mul(out, ag::Var(weights)));
    collect_ops(loss);
    loss.backward();
    const double eps = 1e-6;
    for (size_t i = 0; i < vars.size(); ++i) {
        CAPTURE(i);
        Tensor grad = vars[i].grad();
        REQUIRE(grad.defined());
        REQUIRE(grad.shape() == values[i].shape());
        // perturb the underlying storage element by element (capped)
        Tensor base = values[i];
        int64_t n = base.numel();
        int64_t step = std::max<int64_t>(1, n / 24);
        std::vector<double> g = grad.to_vector();
        Shape strides = contiguous_strides(base.shape());
        for (int64_t flat = 0; flat < n; flat += step) {
            int64_t off = 0, rem = flat;
            for (int64_t d = base.dim() - 1; d >= 0; --d) {
                off += (rem % base.shape()[d]) * base.strides()[d];
                rem /= base.shape()[d];
            }
            double* p = base.data<double>() + off;
            double orig = *p;
            *p = orig + eps;
            double up = loss_of(vars);
            *p = orig - eps;
            double down = loss_of(vars);
            *p = orig;
            double numeric = (up - down) / (2 * eps);
            CAPTURE(flat);
            CHECK(g[flat] == doctest::Approx(numeric).epsilon(1e-5).scale(1.0));
        }
    }
}

const Conv2dParams kS2P1 = Conv2dParams::square(2, 1);

std::vector<GradCase> table() {
    using V = std::vector<ag::Var>;
    Tensor idx_rows = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 4}, {4});
    Tensor idx_gather = Tensor::from_vector(std::vector<int64_t>{1, 0, 2, 2, 0, 1}, {2, 3});
    Tensor classes = Tensor::from_vector(std::vector<int64_t>{0, 3, 1, 2, 3, 0}, {2, 3});
    return {
        {"add broadcast", {{{3, 4}}, {{4}}}, [](const V& v) { return ag::add(v[0], v[1]); }},
        {"sub broadcast", {{{2, 1, 3}}, {{4, 1}}}, [](const V& v) { return ag::sub(v[0], v[1]); }},
        {"mul transposed", {{{3, 4}, -1, 1, true}, {{3, 4}}}, [](const V& v) { return ag::mul(v[0], v[1]); }},
        {"div", {{{3, 4}}, {{4}, 0.5, 2.0}}, [](const V& v) { return ag::div(v[0], v[1]); }},
        {"maximum", {{{5}, -1, -0.1}, {{5}, 0.1, 1}}, [](const V& v) { return ag::maximum(v[1], v[0]); }},
        {"add_scalar", {{{3}}}, [](const V& v) { return ag::add(v[0], 2.5); }},
        {"mul_scalar", {{{3}}}, [](const V& v) { return ag::mul(v[0], -1.5); }},
        {"pow", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::pow(v[0], 2.5); }},
        {"neg", {{{4}}}, [](const V& v) { return ag::neg(v[0]); }},
        {"exp", {{{4}}}, [](const V& v) { return ag::exp(v[0]); }},
        {"log", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::log(v[0]); }},
        {"tanh", {{{4}}}, [](const V& v) { return ag::tanh(v[0]); }},
        {"sigmoid", {{{4}, -3, 3}}, [](const V& v) { return ag::sigmoid(v[0]); }},
        {"relu", {{{3, 5}, -1, 1, true, true}}, [](const V& v) { return ag::relu(v[0]); }},
        {"sqrt", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::sqrt(v[0]); }},
        {"abs", {{{6}, -1, 1, false, true}}, [](const V& v) { return ag::abs(v[0]); }},
        {"square", {{{4}}}, [](const V& v) { return ag::square(v[0]); }},
        {"softplus", {{{4}, -3, 3}}, [](const V& v) { return ag::softplus(v[0]); }},
        {"reshape", {{{2, 6}, -1, 1, true}}, [](const V& v) { return ag::reshape(v[0], {3, 4}); }},
        {"permute", {{{2, 3, 4}}}, [](const V& v) { return ag::permute(v[0], {2, 0, 1}); }},
        {"transpose", {{{2, 3}}}, [](const V& v) { return ag::transpose(v[0], 0, 1); }},
        {"narrow", {{{3, 6}}}, [](const V& v) { return ag::narrow(v[0], 1, 2, 3); }},
        {"expand", {{{3, 1}}}, [](const V& v) { return ag::expand(v[0], {2, 3, 4}); }},
        {"unsqueeze squeeze", {{{3, 4}}}, [](const V& v) { return ag::squeeze(ag::unsqueeze(v[0], 1), 1); }},
        {"contiguous", {{{3, 4}, -1, 1, true}}, [](const V& v) { return ag::contiguous(v[0]); }},
        {"sum dims", {{{2, 3, 4}}}, [](const V& v) { return ag::sum(v[0], {0, 2}); }},
        {"sum keepdim", {{{2, 3, 4}}}, [](const V& v) { return ag::sum(v[0], {1}, true); }},
        {"mean", {{{2, 3, 4}}}, [](const V& v) { return ag::mean(v[0], {-1}); }},
        {"max", {{{3, 5}}}, [](const V& v) { return ag::max(v[0], {1}); }},
        {"logsumexp", {{{3, 5}, -2, 2}}, [](const V& v) { return ag::logsumexp(v[0], {1}); }},
        {"matmul transposed", {{{3, 4}, -1, 1, true}, {{4, 5}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"matmul batched", {{{2, 3, 4}}, {{2, 4, 2}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"matmul batch x matrix", {{{2, 3, 4}}, {{4, 2}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"linear", {{{3, 4}}, {{5, 4}}, {{5}}}, [](const V& v) { return ag::linear(v[0], v[1], v[2]); }},
        {"conv2d s2 p1", {{{2, 3, 6, 5}}, {{4, 3, 4, 4}}, {{4}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], kS2P1); }},
        {"conv2d (2,3) kernel", {{{1, 2, 4, 4}}, {{3, 2, 2, 3}}, {{3}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], {1, 1, 1, 1}); }},
        {"conv2d 1x1", {{{2, 3, 3, 3}}, {{2, 3, 1, 1}}, {{2}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], {}); }},
        {"conv_transpose2d s2 p1", {{{2, 3, 3, 4}}, {{3, 2, 4, 4}}, {{2}}},
         [](const V& v) { return ag::conv_transpose2d(v[0], v[1], v[2], kS2P1); }},
        {"index_select", {{{5, 3}}}, [idx_rows](const V& v) { return ag::index_select(v[0], 0, idx_rows); }},
        {"embedding", {{{5, 3}}}, [idx_gather](const V& v) { return ag::embedding(v[0], idx_gather); }},
        {"gather", {{{2, 4}}}, [idx_gather](const V& v) { return ag::gather(v[0], 1, idx_gather); }},
        {"bce_with_logits", {{{3, 4}, -4, 4}, {{3, 4}, 0, 1}},
         [](const V& v) { return ag::bce_with_logits(v[0], v[1], ag::Reduction::None); }},
        {"bce_with_logits mean", {{{3, 4}, -4, 4}, {{3, 4}, 0, 1}},
         [](const V& v) { return ag::bce_with_logits(v[0], v[1], ag::Reduction::Mean); }},
        {"cross_entropy", {{{2, 4, 3}, -2, 2}},
         [classes](const V& v) { return ag::cross_entropy(v[0], classes, ag::Reduction::None); }},
        {"mse sum", {{{3, 4}}, {{3, 4}}}, [](const V& v) { return ag::mse(v[0], v[1], ag::Reduction::Sum); }},
    };
}

}  // namespace

TEST_CASE("every differentiable op passes a finite-difference check in f64") {
    Generator gen(100);
    for (const GradCase& c : table()) check_case(c, gen);
    for (const char* op : ag::kDifferentiableOps) {
        CAPTURE(op);
        CHECK(g_ops_seen.count(op) == 1);
    }
}

TEST_CASE("a value used twice gets both contributions") {
    ag::Var a(Tensor::from_vector(std::vector<double>{3.0}, {1}), true);
    ag::Var b = ag::add(a, a);
    ag::Var c = ag::mul(b, a);  // c = 2 a^2, dc/da = 4 a = 12
    ag::sum(c).backward();
    CHECK(a.grad().item() == 12.0);
}

TEST_CASE("gradients accumulate across backward calls until zeroed") {
    ag::Var w(Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}), true);
    ag::sum(ag::mul(w, 3.0)).backward();
    ag::sum(ag::mul(w, 3.0)).backward();
    CHECK(w.grad().to_vector() == std::vector<double>{6.0, 6.0});
    w.zero_grad();
    CHECK_FALSE(w.grad().defined());
}

TEST_CASE("no_grad builds no graph and detach stops gradients") {
    ag::Var w(Tensor::ones({2}, DType::F64), true);
    {
        ag::NoGradGuard guard;
        ag::Var y = ag::mul(w, 2.0);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.node()->inputs.empty());
    }
    CHECK(ag::grad_enabled());
    // straight-through: forward value is q, gradient flows to x unchanged
    ag::Var x(Tensor::from_vector(std::vector<double>{0.3, -1.2}, {2}), true);
    Tensor q = Tensor::from_vector(std::vector<double>{0.0, -1.0}, {2});
    ag::Var st = ag::add(x, ag::sub(ag::Var(q), x).detach());
    CHECK(st.value().to_vector() == q.to_vector());
    ag::sum(ag::mul(st, 5.0)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{5.0, 5.0});
}

TEST_CASE("backward frees the graph and rejects bad seeds") {
    ag::Var w(Tensor::ones({3}, DType::F64), true);
    ag::Var y = ag::exp(ag::mul(w, 2.0));
    ag::Var s = ag::sum(y);
    s.backward();
    CHECK(s.node()->inputs.empty());
    CHECK_FALSE(static_cast<bool>(s.node()->backward));
    CHECK(message_contains([&] { ag::exp(ag::mul(w, 2.0)).backward(); }, "scalar"));
    ag::Var c(Tensor::ones({1}));
    CHECK(message_contains([&] { c.backward(); }, "does not require grad"));
}

TEST_CASE("a deep chain backpropagates without recursion") {
    ag::Var x(Tensor::ones({1}, DType::F64), true);
    ag::Var y = x;
    for (int i = 0; i < 20000; ++i) y = ag::add(y, 0.0);
    y.backward();
    CHECK(x.grad().item() == 1.0);
}
