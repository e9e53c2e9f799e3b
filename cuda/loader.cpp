// backend.hpp for a build with CUDA: every entry point forwards to the CUDA
// module (libvqcuda.so), which is opened on the first call. A CPU-only run
// never makes one, so it never loads the module, cudart or cuBLAS.
//
// The module is looked for at $VQ_CUDA_MODULE, then beside the executable's
// folder as in the build tree (<exe>/../cuda/libvqcuda.so), then where
// `meson install` puts it.
#include <stdexcept>
#include <string>

#include "cuda/module_api.hpp"
#include "cuda/module_loader.hpp"

namespace vq::cuda {

namespace {

struct Loaded {
    const ModuleApi* api = nullptr;
    std::string error;  // why it is null
};

const Loaded& loaded() {
    static Loaded l = [] {
        Loaded r;
        std::string tried;
        using Entry = const ModuleApi* (*)();
        void* entry = open_module_entry({"libvqcuda.so", "VQ_CUDA_MODULE", "cuda", VQ_CUDA_MODULE_INSTALLED, "vq_cuda_module_api"},
                                        [](void* e) {
                                            const ModuleApi* api = reinterpret_cast<Entry>(e)();
                                            return api && api->version == kModuleApiVersion;
                                        },
                                        tried);
        if (entry) r.api = reinterpret_cast<Entry>(entry)();
        else r.error = "the CUDA backend (libvqcuda.so) could not be loaded; tried:" + tried;
        return r;
    }();
    return l;
}

const ModuleApi& api() {
    const Loaded& l = loaded();
    if (!l.api) throw std::runtime_error(l.error);
    return *l.api;
}

}  // namespace

bool built_with_cuda() { return true; }
bool available() { return loaded().api && loaded().api->available(); }
int device_count() { return loaded().api ? loaded().api->device_count() : 0; }
void use_device(int index) { api().use_device(index); }

void* device_alloc(size_t nbytes) { return api().device_alloc(nbytes); }
void device_free(void* ptr, size_t nbytes) { api().device_free(ptr, nbytes); }
void copy_host_to_device(void* dst, const void* src, size_t n) { api().copy_host_to_device(dst, src, n); }
void copy_device_to_host(void* dst, const void* src, size_t n) { api().copy_device_to_host(dst, src, n); }
void copy_device_to_device(void* dst, const void* src, size_t n) { api().copy_device_to_device(dst, src, n); }
void synchronize() { api().synchronize(); }
PoolStats pool_stats() { return loaded().api ? loaded().api->pool_stats() : PoolStats{}; }

void fill(const View& out, DType dtype, double value) { api().fill(out, dtype, value); }
void unary(UnaryOp op, DType dtype, const View& out, const View& x) { api().unary(op, dtype, out, x); }
void binary(BinaryOp op, DType dtype, const View& out, const View& a, const View& b) { api().binary(op, dtype, out, a, b); }
void binary_scalar(BinaryOp op, DType dtype, const View& out, const View& a, double b) {
    api().binary_scalar(op, dtype, out, a, b);
}
void copy(const View& out, DType out_dtype, const View& src, DType src_dtype) { api().copy(out, out_dtype, src, src_dtype); }

void reduce(ReduceOp op, DType dtype, void* out, const View& kept, const View& reduced) {
    api().reduce(op, dtype, out, kept, reduced);
}
void arg_reduce(bool want_max, DType dtype, int64_t* out, const View& kept, const View& along) {
    api().arg_reduce(want_max, dtype, out, kept, along);
}

void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const void* A,
          int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, double beta, void* C,
          int64_t ldc, int64_t stride_c, int64_t batch) {
    api().gemm(dtype, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, batch);
}
void set_tf32(bool enabled) {
    if (loaded().api) loaded().api->set_tf32(enabled);
}

void im2col(DType dtype, const void* x, void* cols, const ConvShape& s, bool rows_outer) {
    api().im2col(dtype, x, cols, s, rows_outer);
}
void col2im(DType dtype, const void* cols, void* x, const ConvShape& s) { api().col2im(dtype, cols, x, s); }
void add_channel_bias(DType dtype, void* y, const void* bias, int64_t N, int64_t C, int64_t HW) {
    api().add_channel_bias(dtype, y, bias, N, C, HW);
}

void index_select(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                  int64_t inner) {
    api().index_select(dtype, x, idx, out, outer, n, k, inner);
}
void index_add_onehot(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                      int64_t inner) {
    api().index_add_onehot(dtype, src, idx, out, outer, n, k, inner);
}
void index_add(DType dtype, const void* src, const int64_t* order, const int64_t* starts, void* out, int64_t outer,
               int64_t n, int64_t k, int64_t inner) {
    api().index_add(dtype, src, order, starts, out, outer, n, k, inner);
}
void gather(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
            int64_t inner) {
    api().gather(dtype, x, idx, out, outer, n, k, inner);
}
void scatter_add(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                 int64_t inner) {
    api().scatter_add(dtype, src, idx, out, outer, n, k, inner);
}
void check_device_errors() {
    if (loaded().api) loaded().api->check_device_errors();
}

void adam_step(DType dtype, void* param, const void* grad, void* m, void* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool decoupled, double bias1, double bias2_sqrt) {
    api().adam_step(dtype, param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled, bias1, bias2_sqrt);
}
void ema_accumulate(DType dtype, void* count, void* sums, void* usage, const void* stats, int64_t K, int64_t D,
                    double decay) {
    api().ema_accumulate(dtype, count, sums, usage, stats, K, D, decay);
}
void ema_codebook(DType dtype, void* e, const void* count, const void* sums, const void* total, int64_t K, int64_t D,
                  double eps) {
    api().ema_codebook(dtype, e, count, sums, total, K, D, eps);
}

}  // namespace vq::cuda
