// CUDA parity tests: the same bodies run on the CPU and on the GPU and the
// results must agree. Without a GPU the program exits 77 (meson: SKIP).
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>

#include "cuda/backend.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;

TEST_CASE("host-device round trip keeps values") {
    Generator gen(20);
    Tensor x = random_tensor({3, 5}, gen, DType::F32);
    Tensor back = x.to(Device::cuda()).to(Device::cpu());
    CHECK_CLOSE(back, x, 0, 0);
    Tensor strided = x.t().to(Device::cuda()).to(Device::cpu());
    CHECK_CLOSE(strided, x.t().contiguous(), 0, 0);
}

TEST_CASE("fill and add on the GPU match the CPU") {
    Generator gen(21);
    for (DType dt : {DType::F32, DType::F64}) {
        Tensor a = random_tensor({1000, 3}, gen, dt), b = random_tensor({1000, 3}, gen, dt);
        Tensor gpu = add(a.to(Device::cuda()), b.to(Device::cuda())).to(Device::cpu());
        CHECK_CLOSE(gpu, add(a, b), 1e-6, 1e-7);
        Tensor f = Tensor::full({17}, 2.5, dt, Device::cuda());
        CHECK(f.to_vector() == std::vector<double>(17, 2.5));
    }
}

TEST_CASE("the device pool reuses freed blocks") {
    { Tensor a = Tensor::empty({1 << 20}, DType::F32, Device::cuda()); }
    size_t calls = cuda::pool_stats().cuda_malloc_calls;
    { Tensor b = Tensor::empty({1 << 20}, DType::F32, Device::cuda()); }
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
