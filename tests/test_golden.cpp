// PyTorch's own numbers for three things a reader would most want to trust:
// conv_transpose2d with its gradients, BCE-with-logits at extreme logits, and
// Adam/AdamW steps. tests/golden/make_golden.py wrote them with PyTorch (it
// says what each file holds); the suite only reads them, so it needs no
// PyTorch. All float64, so the tolerances are tight.
#include "helpers.hpp"
#include "nn/safetensors.hpp"
#include "optim/optimizer.hpp"

using namespace vq;
using namespace vq::testing;

namespace {
std::map<std::string, Tensor> golden(const std::string& name) {
    return nn::load_safetensors("tests/golden/" + name + ".safetensors").tensors;
}
}  // namespace

TEST_CASE("conv_transpose2d and its gradients equal PyTorch's (stride 2, padding 1)") {
    auto g = golden("conv_transpose2d");
    ag::Var x(g.at("x"), true), w(g.at("w"), true), b(g.at("b"), true);
    ag::Var y = ag::conv_transpose2d(x, w, b, Conv2dParams::square(2, 1));
    CHECK_CLOSE(y.value(), g.at("y"), 1e-12, 1e-12);
    ag::sum(ag::mul(y, ag::Var(g.at("r")))).backward();
    CHECK_CLOSE(x.grad(), g.at("dx"), 1e-12, 1e-12);
    CHECK_CLOSE(w.grad(), g.at("dw"), 1e-12, 1e-12);
    CHECK_CLOSE(b.grad(), g.at("db"), 1e-12, 1e-12);
}

TEST_CASE("BCE with logits and its gradient equal PyTorch's, logits of +-30 and +-80 included") {
    auto g = golden("bce_with_logits");
    ag::Var logits(g.at("logits"), true);
    ag::Var loss = ag::bce_with_logits(logits, ag::Var(g.at("target")), ag::Reduction::Mean);
    CHECK(loss.value().item() == doctest::Approx(g.at("loss").item()).epsilon(1e-14));
    loss.backward();
    CHECK_CLOSE(logits.grad(), g.at("dlogits"), 1e-12, 1e-15);
}

TEST_CASE("three Adam (L2 decay) and AdamW steps equal torch.optim's") {
    auto g = golden("adam");
    for (bool decoupled : {false, true}) {
        CAPTURE(decoupled);
        ag::Var p(g.at("p0").clone(), true);
        optim::AdamConfig c;
        c.lr = 0.01;
        c.weight_decay = 0.1;
        c.decoupled = decoupled;
        optim::Adam opt({{"p", p}}, c);
        for (const char* i : {"1", "2", "3"}) {
            p.set_grad(g.at(std::string("g") + i).clone());
            opt.step();
            CHECK_CLOSE(p.value(), g.at(std::string(decoupled ? "q" : "p") + i), 1e-13, 1e-15);
        }
    }
}
