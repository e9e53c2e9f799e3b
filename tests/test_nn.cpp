// nn layers, losses, initialisation, safetensors checkpoints and a small
// end-to-end training run.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nn/layers.hpp"
#include "nn/safetensors.hpp"
#include "optim/optimizer.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {


struct TinyNet : nn::Module {
    nn::Conv2d conv;
    nn::ResBlock res;
    nn::Linear head;
    TinyNet(Generator& gen) : conv(1, 4, 3, 1, 1, gen), res(4, 2, gen), head(4 * 8 * 8, 2, gen) {
        register_module("conv", conv);
        register_module("res", res);
        register_module("head", head);
    }
};

}  // namespace

TEST_CASE("modules name parameters by dotted paths in registration order") {
    Generator gen(1);
    TinyNet net(gen);
    std::vector<std::string> names;
    for (auto& [n, v] : net.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"conv.weight", "conv.bias", "res.conv1.weight", "res.conv1.bias",
                                            "res.conv2.weight", "res.conv2.bias", "head.weight", "head.bias"});
    CHECK(net.res.conv1.weight.shape() == Shape{2, 4, 3, 3});
    CHECK(net.res.conv2.weight.shape() == Shape{4, 2, 1, 1});
    CHECK(net.parameter_count() == 4 * 9 + 4 + 2 * 4 * 9 + 2 + 4 * 2 + 4 + 2 * 256 + 2);
}

TEST_CASE("default init is uniform within 1/sqrt(fan_in), transposed convs use out*k*k") {
    Generator gen(2);
    nn::Conv2d c(16, 8, 3, 1, 1, gen);
    double bound = 1.0 / std::sqrt(16.0 * 9);
    CHECK(max(abs(c.weight.value())).item() <= bound);
    CHECK(max(abs(c.weight.value())).item() > 0.9 * bound);
    CHECK(max(abs(c.bias.value())).item() <= bound);
    nn::ConvTranspose2d t(128, 64, 4, 2, 1, gen);
    CHECK(t.weight.shape() == Shape{128, 64, 4, 4});
    double tb = 1.0 / std::sqrt(64.0 * 16);
    CHECK(max(abs(t.weight.value())).item() <= tb);
    CHECK(max(abs(t.weight.value())).item() > 0.9 * tb);
    nn::Linear l(6272, 64, gen);
    CHECK(l.weight.shape() == Shape{64, 6272});
}

TEST_CASE("layers compute what their definitions say") {
    Generator gen(3);
    nn::Linear l(3, 2, gen);
    Tensor x = random_tensor({4, 3}, gen, DType::F32);
    CHECK_CLOSE(l.forward(ag::Var(x)).value(), add(matmul(x, l.weight.value().t()), l.bias.value()), 1e-6, 1e-6);
    nn::ResBlock rb(4, 2, gen);
    Tensor y = random_tensor({2, 4, 5, 5}, gen, DType::F32);
    Tensor inner = conv2d(relu(conv2d(relu(y), rb.conv1.weight.value(), rb.conv1.bias.value(), Conv2dParams::square(1, 1))),
                          rb.conv2.weight.value(), rb.conv2.bias.value(), {});
    CHECK_CLOSE(rb.forward(ag::Var(y)).value(), add(y, inner), 1e-5, 1e-6);
    nn::Embedding e(10, 3, gen);
    Tensor idx = Tensor::from_vector(std::vector<int64_t>{9, 0, 9, 1}, {2, 2});
    Tensor out = e.forward(idx).value();
    CHECK(out.shape() == Shape{2, 2, 3});
    CHECK(out.at({1, 0, 2}) == e.weight.value().at({9, 2}));
}

TEST_CASE("BCE with logits is exact and finite for large logits") {
    Tensor x = Tensor::from_vector(std::vector<double>{100, -100, 0, 2}, {4});
    Tensor t = Tensor::from_vector(std::vector<double>{0, 1, 1, 0}, {4});
    auto l = ag::bce_with_logits(ag::Var(x), ag::Var(t), ag::Reduction::None).value().to_vector();
    CHECK(l[0] == doctest::Approx(100.0));
    CHECK(l[1] == doctest::Approx(100.0));
    CHECK(l[2] == doctest::Approx(std::log(2.0)));
    CHECK(l[3] == doctest::Approx(std::log(1 + std::exp(2.0))));
    double s = ag::bce_with_logits(ag::Var(x), ag::Var(t), ag::Reduction::Sum).value().item();
    double m = ag::bce_with_logits(ag::Var(x), ag::Var(t), ag::Reduction::Mean).value().item();
    CHECK(s == doctest::Approx(4 * m));
    ag::Var xv(x.to(DType::F32), true);
    ag::bce_with_logits(xv, ag::Var(t.to(DType::F32)), ag::Reduction::Sum).backward();
    for (double g : xv.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("cross-entropy equals minus log-softmax of the target") {
    Tensor logits = Tensor::from_vector(std::vector<double>{1, 2, 3, 0, 0, 0}, {2, 3});
    Tensor target = Tensor::from_vector(std::vector<int64_t>{2, 1}, {2});
    auto l = ag::cross_entropy(ag::Var(logits), target, ag::Reduction::None).value().to_vector();
    CHECK(l[0] == doctest::Approx(std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3));
    CHECK(l[1] == doctest::Approx(std::log(3.0)));
    CHECK(message_contains([&] { ag::cross_entropy(ag::Var(logits), Tensor::zeros({3}, DType::I64)); }, "[2, 3]"));
    CHECK(message_contains([&] { ag::cross_entropy(ag::Var(logits), Tensor::full({2}, 3.0, DType::I64)); },
                           "target class 3 outside [0, 3)"));
    // float32 (the fast exp) agrees, and large logits do not overflow
    Tensor big = Tensor::from_vector(std::vector<double>{1000, 990, 0, -50, -40, -45}, {2, 3});
    auto l32 = ag::cross_entropy(ag::Var(big.to(DType::F32)), target, ag::Reduction::None).value().to_vector();
    CHECK(l32[0] == doctest::Approx(std::log(1 + std::exp(-10.0) + std::exp(-1000.0)) + 1000).epsilon(1e-6));
    CHECK(l32[1] == doctest::Approx(std::log(std::exp(-10.0) + 1 + std::exp(-5.0))).epsilon(1e-5));
    Tensor mse = ag::mse(ag::Var(Tensor::ones({2, 2})), ag::Var(Tensor::zeros({2, 2})), ag::Reduction::Sum).value();
    CHECK(mse.item() == 4.0);
}

TEST_CASE("Adam matches hand-computed steps; AdamW decays decoupled") {
    // f(p) = p^2 from p = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8. Worked by
    // hand from the update m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
    // p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps):
    // p1 = 0.9000000005, p2 = 0.8004122286917927, p3 = 0.7015862729460302.
    for (bool decoupled : {false, true}) {
        ag::Var p(Tensor::ones({1}, DType::F64), true);
        optim::AdamConfig c;
        c.lr = 0.1;
        c.decoupled = decoupled;
        c.weight_decay = decoupled ? 0.5 : 0.0;
        optim::Adam opt({{"p", p}}, c);
        std::vector<double> want = decoupled ? std::vector<double>{0.8500000004999999, 0.7082484433597453}
                                             : std::vector<double>{0.9000000005, 0.8004122286917927, 0.7015862729460302};
        for (double w : want) {
            opt.zero_grad();
            ag::sum(ag::square(p)).backward();
            opt.step();
            CHECK(p.value().item() == doctest::Approx(w).epsilon(1e-12));
        }
    }
}

TEST_CASE("SGD with momentum matches hand-computed steps") {
    // f = p^2, lr 0.1, momentum 0.9: buf = g, then 0.9 buf + g -> p = 0.8, 0.46, 0.062
    ag::Var p(Tensor::ones({1}, DType::F64), true);
    optim::SGD opt({{"p", p}}, 0.1, 0.9);
    for (double w : {0.8, 0.46, 0.062}) {
        opt.zero_grad();
        ag::sum(ag::square(p)).backward();
        opt.step();
        CHECK(p.value().item() == doctest::Approx(w).epsilon(1e-12));
    }
}

TEST_CASE("clip_grad_norm scales to the max norm and reports the old norm") {
    ag::Var a(Tensor::zeros({2}, DType::F64), true), b(Tensor::zeros({1}, DType::F64), true);
    a.set_grad(Tensor::from_vector(std::vector<double>{3, 0}, {2}));
    b.set_grad(Tensor::from_vector(std::vector<double>{4}, {1}));
    CHECK(optim::clip_grad_norm({a, b}, 1.0) == doctest::Approx(5.0));
    CHECK(a.grad().to_vector()[0] == doctest::Approx(0.6).epsilon(1e-5));
    CHECK(b.grad().to_vector()[0] == doctest::Approx(0.8).epsilon(1e-5));
    CHECK(optim::clip_grad_norm({a, b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("Adam state round-trips through a state dict") {
    ag::Var p(Tensor::ones({3}), true), q(Tensor::ones({3}), true);
    optim::AdamConfig c;
    optim::Adam a({{"w", p}}, c), b({{"w", q}}, c);
    for (int i = 0; i < 3; ++i) {
        a.zero_grad();
        ag::sum(ag::square(p)).backward();
        a.step();
    }
    q.assign(p.value().clone());
    b.load_state_dict(a.state_dict(), "state");
    a.zero_grad(); b.zero_grad();
    ag::sum(ag::square(p)).backward();
    ag::sum(ag::square(q)).backward();
    a.step(); b.step();
    CHECK(p.value().to_vector() == q.value().to_vector());
    CHECK(message_contains([&] { b.load_state_dict({}, "state.safetensors"); }, "state.safetensors: optimizer state is missing"));
}

TEST_CASE("safetensors round trip keeps names, shapes, dtypes and values") {
    Generator gen(4);
    std::map<std::string, Tensor> t = {{"a.weight", random_tensor({2, 3}, gen, DType::F32)},
                                       {"b", Tensor::from_vector(std::vector<int64_t>{7, -1}, {2})},
                                       {"c", random_tensor({1}, gen, DType::F64)},
                                       {"empty", Tensor::zeros({0, 4})}};
    std::string path = test_dir("nn") + "/round.safetensors";
    nn::save_safetensors(path, t, {{"model", "test"}});
    for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))  // no temporary file left behind
        CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
    nn::SafetensorsFile f = nn::load_safetensors(path);
    CHECK(f.metadata.at("model") == "test");
    REQUIRE(f.tensors.size() == 4);
    for (auto& [n, v] : t) {
        CHECK(f.tensors.at(n).dtype() == v.dtype());
        CHECK(f.tensors.at(n).shape() == v.shape());
        CHECK(f.tensors.at(n).to_vector() == v.to_vector());
    }
}

TEST_CASE("load_state_dict names missing, extra and mis-shaped tensors, and changes nothing") {
    Generator gen(5);
    TinyNet a(gen), b(gen);
    auto before = b.conv.weight.value().to_vector();
    nn::StateDict s = a.state_dict();
    s.erase("res.conv1.bias");
    CHECK(message_contains([&] { b.load_state_dict(s, "x.safetensors"); }, "x.safetensors: missing tensor 'res.conv1.bias'"));
    s = a.state_dict();
    s["extra.weight"] = Tensor::zeros({1});
    CHECK(message_contains([&] { b.load_state_dict(s, "x.safetensors"); }, "unexpected tensor 'extra.weight'"));
    s = a.state_dict();
    s["head.weight"] = Tensor::zeros({3, 256});
    CHECK(message_contains([&] { b.load_state_dict(s, "x.safetensors"); }, "'head.weight' has shape [3, 256], expected [2, 256]"));
    CHECK(b.conv.weight.value().to_vector() == before);
    b.load_state_dict(a.state_dict(), "x.safetensors");
    CHECK(b.conv.weight.value().to_vector() == a.conv.weight.value().to_vector());
}

TEST_CASE("malformed safetensors files fail with a message naming the problem") {
    auto le64 = [](uint64_t n) {
        std::string s;
        for (int i = 0; i < 8; ++i) s.push_back(char((n >> (8 * i)) & 0xff));
        return s;
    };
    auto file = [&](const std::string& header, size_t data_bytes) { return le64(header.size()) + header + std::string(data_bytes, '\0'); };
    auto fails_with = [&](const std::string& bytes, const std::string& needle) {
        return message_contains([&] { nn::parse_safetensors(bytes, "bad.safetensors"); }, needle);
    };
    CHECK(fails_with("abc", "too short"));
    CHECK(fails_with(le64(1000) + "{}", "exceeds the file size"));
    CHECK(fails_with(file("{not json", 0), "not valid JSON"));
    CHECK(fails_with(file("[1,2]", 0), "not a JSON object"));
    CHECK(fails_with(file(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2), "unsupported dtype 'F16'"));
    CHECK(fails_with(file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8), "outside the data section"));
    CHECK(fails_with(file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes"));
    CHECK(fails_with(file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlap"));
    CHECK(fails_with(file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative"));
    CHECK(fails_with(file(R"({"a":{"shape":[2]}})", 8), "needs dtype, shape and data_offsets"));
    CHECK(message_contains([] { nn::load_safetensors("/nonexistent/model.safetensors"); }, "/nonexistent/model.safetensors: file not found"));
}

TEST_CASE("safetensors interchange with an independent numpy implementation") {
    std::string from_py = test_dir("nn") + "/from_python.safetensors", from_cpp = test_dir("nn") + "/from_cpp.safetensors";
    std::string script = "/usr/bin/python3 tests/safetensors_interop.py";
    REQUIRE(std::system((script + " write " + from_py).c_str()) == 0);
    nn::SafetensorsFile f = nn::load_safetensors(from_py);
    REQUIRE(f.tensors.size() == 4);
    CHECK(f.metadata.at("writer") == "numpy");
    CHECK(f.tensors.at("encoder.conv1.weight").shape() == Shape{2, 3, 2, 2});
    CHECK(f.tensors.at("encoder.conv1.weight").at({1, 2, 1, 1}) == doctest::Approx(23.0f / 7.0f - 1.5f));
    CHECK(f.tensors.at("counts").to_ints() == std::vector<int64_t>{1, -2, 3});
    CHECK(f.tensors.at("precise").to_vector()[0] == M_PI);
    nn::save_safetensors(from_cpp, f.tensors);
    CHECK(std::system((script + " check " + from_cpp).c_str()) == 0);
}

TEST_CASE("a small conv net trained with Adam learns a toy task") {
    // Class 0: a horizontal bar, class 1: a vertical bar, at random places,
    // with noise. A wrong gradient anywhere in the stack cannot reach the bar.
    Generator gen(6);
    TinyNet net(gen);
    optim::Adam opt(net.named_parameters(), optim::AdamConfig{3e-3});
    auto batch = [&](int64_t n, Tensor& labels) {
        Tensor x = rand_normal({n, 1, 8, 8}, 0.0, 0.3, gen);
        labels = randint({n}, 2, gen);
        float* px = x.data<float>();
        const int64_t* pl = labels.data<int64_t>();
        for (int64_t i = 0; i < n; ++i) {
            int64_t at = gen.randint(8);
            for (int64_t j = 0; j < 8; ++j) px[i * 64 + (pl[i] == 0 ? at * 8 + j : j * 8 + at)] += 1.0f;
        }
        return x;
    };
    double last = 0;
    for (int step = 0; step < 150; ++step) {
        Tensor labels;
        Tensor x = batch(32, labels);
        ag::Var h = ag::relu(net.res.forward(ag::relu(net.conv.forward(ag::Var(x)))));
        ag::Var logits = net.head.forward(ag::reshape(h, {32, -1}));
        ag::Var loss = ag::cross_entropy(logits, labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        last = loss.value().item();
    }
    CHECK(last < 0.1);
}
