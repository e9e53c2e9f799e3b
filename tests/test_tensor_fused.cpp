// The fused kernels (PixelCNN gate, cross-entropy) against their composed
// forms, which are also what the CUDA path runs: forward and backward, f32 and
// f64, contiguous and strided inputs, and the error texts.
#include <cmath>

#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

TEST_CASE("gated_tanh and its backward match the composed tanh * sigmoid") {
    Generator gen(11);
    for (DType dtype : {DType::F64, DType::F32}) {
        CAPTURE(dtype_name(dtype));
        const double tol = dtype == DType::F64 ? 1e-12 : 1e-6;
        // [B, 2C, H, W] large enough to be split across threads, and a strided view
        Tensor a = random_tensor({6, 16, 7, 7}, gen, dtype, -4, 4);
        Tensor strided = random_tensor({6, 16, 7, 9}, gen, dtype, -4, 4).narrow(3, 1, 7);
        for (const Tensor& x : {a, strided}) {
            Tensor g = random_tensor({6, 8, 7, 7}, gen, dtype);
            CHECK_CLOSE(gated_tanh(x), composed::gated_tanh(x), tol, tol);
            CHECK_CLOSE(gated_tanh_backward(x, g), composed::gated_tanh_backward(x, g), tol, tol);
        }
    }
    CHECK(message_contains([] { gated_tanh(Tensor::ones({2, 3, 4})); }, "even channel count, got [2, 3, 4]"));
    CHECK(message_contains([] { gated_tanh_backward(Tensor::ones({2, 4, 3}), Tensor::ones({2, 4, 3})); },
                           "grad must be the gate's output shape"));
}

TEST_CASE("fused cross-entropy, its logsumexp and its backward match the composed form") {
    Generator gen(12);
    for (DType dtype : {DType::F64, DType::F32}) {
        CAPTURE(dtype_name(dtype));
        const double tol = dtype == DType::F64 ? 1e-12 : 2e-6;
        Tensor logits = random_tensor({5, 33, 4, 3}, gen, dtype, -6, 6);
        Tensor strided = random_tensor({5, 4, 3, 33}, gen, dtype, -6, 6).permute({0, 3, 1, 2});
        Tensor target = randint({5, 4, 3}, 33, gen);
        for (const Tensor& x : {logits, strided}) {
            Tensor lse, lse_ref;
            Tensor loss = cross_entropy_loss(x, target, &lse), loss_ref = composed::cross_entropy_loss(x, target, &lse_ref);
            CHECK_CLOSE(loss, loss_ref, tol, tol);
            CHECK_CLOSE(lse, lse_ref, tol, tol);
            Tensor g = random_tensor({5, 4, 3}, gen, dtype);
            CHECK_CLOSE(cross_entropy_backward(x, target, lse, g), composed::cross_entropy_backward(x, target, lse, g),
                        tol, tol);
        }
    }
    Tensor x = Tensor::zeros({2, 3, 4});
    CHECK(message_contains([&] { cross_entropy_loss(x, Tensor::full({2, 4}, -1.0, DType::I64)); },
                           "target class -1 outside [0, 3)"));
    CHECK(message_contains([&] { cross_entropy_loss(x, Tensor::zeros({2, 4})); }, "i64 targets"));
    CHECK(message_contains([&] { cross_entropy_backward(x, Tensor::zeros({2, 4}, DType::I64), Tensor::zeros({2, 4}),
                                                        Tensor::zeros({2, 5})); },
                           "lse and grad must have the target's shape"));
}
