// Tensor metadata, creation and views: every view must share storage and read
// the same values as an explicit copy.
#include "tests/helpers.hpp"
#include "tensor/format.hpp"

using namespace vq;
using namespace vq::testing;

TEST_CASE("contiguous strides and numel") {
    CHECK(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
    CHECK(shape_numel({2, 3, 4}) == 24);
    CHECK(shape_numel({}) == 1);
    CHECK(shape_numel({3, 0}) == 0);
}

TEST_CASE("creation fills values") {
    Tensor z = Tensor::zeros({2, 3});
    Tensor o = Tensor::ones({4}, DType::F64);
    Tensor f = Tensor::full({2}, 2.5);
    Tensor a = Tensor::arange(5, DType::I64);
    CHECK(z.to_vector() == std::vector<double>(6, 0.0));
    CHECK(o.to_vector() == std::vector<double>(4, 1.0));
    CHECK(f.to_vector() == std::vector<double>{2.5, 2.5});
    CHECK(a.to_ints() == std::vector<int64_t>{0, 1, 2, 3, 4});
    CHECK(Tensor::scalar(3.0).dim() == 0);
    CHECK(Tensor::scalar(3.0).item() == 3.0);
}

TEST_CASE("from_vector rejects a wrong count") {
    CHECK(message_contains([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); }, "[2, 2]"));
}

TEST_CASE("view and reshape of contiguous tensors share storage") {
    Tensor t = Tensor::arange(24);
    Tensor v = t.view({2, 3, 4});
    CHECK(v.shares_storage(t));
    CHECK(v.at({1, 2, 3}) == 23.0);
    Tensor r = v.reshape({4, -1});
    CHECK(r.shape() == Shape{4, 6});
    CHECK(r.shares_storage(t));
    CHECK(message_contains([&] { t.reshape({5, -1}); }, "[24]"));
}

TEST_CASE("reshape of a transposed tensor copies, view refuses") {
    Tensor t = Tensor::arange(6).view({2, 3}).t();  // [3, 2], not contiguous
    CHECK_FALSE(t.is_contiguous());
    Tensor r = t.reshape({6});
    CHECK(r.to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
    CHECK(message_contains([&] { t.view({6}); }, "view"));
    // merging dims that stay contiguous is still a view
    Tensor p = Tensor::arange(24).view({2, 3, 4}).permute({1, 0, 2});  // [3, 2, 4]
    CHECK(p.reshape({3, 8}).shares_storage(p) == false);
    CHECK(p.reshape({3, 2, 2, 2}).shares_storage(p));
}

TEST_CASE("permute and transpose read the right elements") {
    Generator gen(1);
    Tensor x = random_tensor({2, 3, 4}, gen);
    Tensor p = x.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == x.at({i, j, k}));
    Tensor tt = x.transpose(0, 2).contiguous();
    CHECK(tt.is_contiguous());
    CHECK(tt.at({3, 1, 0}) == x.at({0, 1, 3}));
    CHECK(message_contains([&] { x.permute({0, 0, 1}); }, "repeated"));
}

TEST_CASE("narrow, slice and select") {
    Tensor t = Tensor::arange(20).view({4, 5});
    Tensor n = t.narrow(1, 1, 3);
    CHECK(n.shape() == Shape{4, 3});
    CHECK(n.at({2, 0}) == 11.0);
    Tensor s = t.slice(1, 0, 5, 2);
    CHECK(s.shape() == Shape{4, 3});
    CHECK(s.contiguous().to_vector()[4] == 7.0);  // row 1: 5, 7, 9
    Tensor r = t.select(0, 3);
    CHECK(r.to_vector() == std::vector<double>{15, 16, 17, 18, 19});
    CHECK(message_contains([&] { t.narrow(0, 3, 2); }, "[4, 5]"));
}

TEST_CASE("expand uses stride 0 and unsqueeze/squeeze round-trip") {
    Tensor t = Tensor::arange(3).view({3, 1});
    Tensor e = t.expand({2, 3, 4});
    CHECK(e.strides()[0] == 0);
    CHECK(e.strides()[2] == 0);
    CHECK(e.at({1, 2, 3}) == 2.0);
    CHECK(message_contains([&] { t.expand({2, 4}); }, "[3, 1]"));
    Tensor u = Tensor::arange(6).view({2, 3}).unsqueeze(1);
    CHECK(u.shape() == Shape{2, 1, 3});
    CHECK(u.squeeze(1).shape() == Shape{2, 3});
    CHECK(message_contains([&] { u.squeeze(0); }, "not 1"));
}

TEST_CASE("clone is independent and to(dtype) converts") {
    Tensor a = Tensor::arange(4);
    Tensor b = a.clone();
    fill_(b, 7.0);
    CHECK(a.to_vector() == std::vector<double>{0, 1, 2, 3});
    Tensor d = Tensor::from_vector(std::vector<float>{1.5f, -2.5f}, {2}).to(DType::F64);
    CHECK(d.dtype() == DType::F64);
    CHECK(d.to_vector() == std::vector<double>{1.5, -2.5});
    CHECK(d.to(DType::I64).to_ints() == std::vector<int64_t>{1, -2});
}

TEST_CASE("fill_ on a strided view touches only the view") {
    Tensor t = Tensor::zeros({3, 4});
    Tensor col = t.narrow(1, 2, 1);
    fill_(col, 5.0);
    CHECK(sum(t).item() == 15.0);
    CHECK(t.at({1, 2}) == 5.0);
    CHECK(t.at({1, 3}) == 0.0);
}

TEST_CASE("printing shows values, shape and dtype") {
    Tensor t = Tensor::arange(6).view({2, 3});
    std::string s = fmt::format("{}", t);
    CHECK(s.find("shape=[2, 3]") != std::string::npos);
    CHECK(s.find("dtype=f32") != std::string::npos);
    CHECK(s.find("[3, 4, 5]") != std::string::npos);
    std::string big = to_string(Tensor::arange(100, DType::I64));
    CHECK(big.find("...") != std::string::npos);
}

TEST_CASE("the CPU allocator reuses freed blocks") {
    { Tensor warm = Tensor::empty({1000}); }
    auto before = cpu_allocator_stats();
    { Tensor again = Tensor::empty({1000}); }
    auto after = cpu_allocator_stats();
    CHECK(after.bytes_cached == before.bytes_cached);
    CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("the CPU allocator serves a slightly smaller request from a cached block") {
    const void* first = nullptr;
    {
        Tensor a = Tensor::empty({20000}, DType::F32);  // 80 KB
        first = a.raw_data();
    }
    {
        Tensor b = Tensor::empty({17000}, DType::F32);  // 68 KB: within a quarter, same block
        CHECK(b.raw_data() == first);
    }
    {
        Tensor c = Tensor::empty({8000}, DType::F32);  // 32 KB: too much waste, a new block
        CHECK(c.raw_data() != first);
    }
}

TEST_CASE("the CPU allocator caches large blocks only within the live peak plus a slack") {
    const void* first = nullptr;
    {
        Tensor big = Tensor::empty({1 << 19}, DType::F32);  // 2 MB
        first = big.raw_data();
    }
    {
        Tensor again = Tensor::empty({1 << 19}, DType::F32);
        CHECK(again.raw_data() == first);  // cached and reused, not mapped afresh
    }
    // blocks 1.3x apart cannot serve each other, so each freed one stays
    // cached until the memory held passes the peak plus the slack
    size_t freed = 0;
    for (double mb = 1; mb < 24; mb *= 1.3) {
        int64_t n = int64_t(mb * (1 << 18));
        { Tensor t = Tensor::empty({n}, DType::F32); }
        freed += size_t(n) * 4;
        auto s = cpu_allocator_stats();
        CHECK(s.bytes_in_use + s.bytes_cached <= s.peak_bytes_in_use + kCpuLargeCacheSlack);
    }
    auto s = cpu_allocator_stats();
    CHECK(freed > s.peak_bytes_in_use + kCpuLargeCacheSlack);  // the bound was reached, so it was enforced
    cpu_allocator_release_cache();
    CHECK(cpu_allocator_stats().bytes_cached == 0);
}

TEST_CASE("devices parse and a CUDA-less build says so") {
    CHECK(Device::parse("cpu").is_cpu());
    CHECK(Device::parse("cuda").is_cuda());
    CHECK(message_contains([] { Device::parse("cuda:1"); }, "CUDA_VISIBLE_DEVICES"));
    CHECK(message_contains([] { Device::parse("tpu"); }, "tpu"));
}
