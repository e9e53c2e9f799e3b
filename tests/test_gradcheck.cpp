// The gradient-check table: every differentiable op, in f64, against central
// finite differences, on random inputs with broadcasting and non-contiguous
// views. Kinks are kept away from explicitly (ReLU/abs inputs away from 0,
// max inputs well separated).
#include <set>
#include <string>

#include "tensor/storage.hpp"
#include "tests/op_table.hpp"

using namespace vq;
using namespace vq::testing;
namespace ag = vq::ag;

namespace {

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

}  // namespace

TEST_CASE("every differentiable op passes a finite-difference check in f64") {
    Generator gen(100);
    for (const GradCase& c : op_table()) check_case(c, gen);
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

TEST_CASE("cat sends each part its slice of the gradient, none to a constant, and names a part that does not fit") {
    ag::Var a(Tensor::from_vector(std::vector<double>{1.0, 2.0, 3.0, 4.0}, {2, 2}), true);
    ag::Var constant(Tensor::from_vector(std::vector<double>{5.0, 6.0}, {2, 1}));
    ag::Var empty(Tensor::zeros({2, 0}, DType::F64), true);
    ag::Var c = ag::cat({a, empty, constant}, 1);  // [2, 3]: rows (1 2 5), (3 4 6)
    CHECK(c.value().to_vector() == std::vector<double>{1, 2, 5, 3, 4, 6});
    ag::Var weights(Tensor::from_vector(std::vector<double>{1, 10, 100, 1000, 10000, 100000}, {2, 3}));
    ag::sum(ag::mul(c, weights)).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{1, 10, 1000, 10000});
    CHECK_FALSE(constant.grad().defined());
    CHECK(message_contains([] { vq::cat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1); },
                           "cat: part 1 is [3, 3] f32 on cpu, part 0 is [2, 3] f32 on cpu (all sizes but dim 1 must agree)"));
    CHECK(message_contains([] { vq::cat({Tensor::zeros({2}), Tensor::zeros({2}, DType::F64)}, 0); }, "part 1 is [2] f64"));
    CHECK(message_contains([] { vq::cat({}, 0); }, "cat: needs at least one tensor"));
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

TEST_CASE("the graph keeps only what backward reads, not every intermediate value") {
    const int64_t n = 1 << 16;  // 256 KB of f32 per tensor
    const size_t bytes = size_t(n) * 4;
    ag::Var x(Tensor::ones({n}), true);
    ag::Var y;
    size_t before = cpu_allocator_stats().bytes_in_use;
    {
        ag::Var t = ag::mul(x, 2.0);  // saves nothing
        y = ag::relu(t);              // saves its own output, not t
    }
    CHECK(cpu_allocator_stats().bytes_in_use - before == bytes);  // y alone: t died with its last Var
    ag::Var z = ag::add(y, x);                                     // add saves nothing either
    CHECK(cpu_allocator_stats().bytes_in_use - before == 2 * bytes);
    ag::sum(z).backward();
    CHECK(x.grad().to_vector() == std::vector<double>(size_t(n), 3.0));
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
