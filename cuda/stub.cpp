// Stand-ins for the CUDA backend when the project is built without nvcc.
#include <stdexcept>

#include "cuda/backend.hpp"

namespace vq::cuda {

[[noreturn]] static void no_cuda() {
    throw std::runtime_error(
        "this build has no CUDA backend: reconfigure with -Dcuda=enabled on a machine with nvcc "
        "(/usr/local/cuda), or use --device cpu");
}

bool built_with_cuda() { return false; }
bool available() { return false; }
int device_count() { return 0; }
void use_device(int) { no_cuda(); }
void* device_alloc(size_t) { no_cuda(); }
void device_free(void*, size_t) {}
void copy_host_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t) { no_cuda(); }
void synchronize() {}
PoolStats pool_stats() { return {}; }
void fill(const View&, DType, double) { no_cuda(); }
void unary(UnaryOp, DType, const View&, const View&) { no_cuda(); }
void binary(BinaryOp, DType, const View&, const View&, const View&) { no_cuda(); }
void copy(const View&, DType, const View&, DType) { no_cuda(); }
void binary_scalar(BinaryOp, DType, const View&, const View&, double) { no_cuda(); }
void index_add_onehot(DType, const void*, const int64_t*, void*, int64_t, int64_t, int64_t, int64_t) { no_cuda(); }
void check_device_errors() {}
void ema_accumulate(DType, void*, void*, void*, const void*, int64_t, int64_t, double) { no_cuda(); }
void ema_codebook(DType, void*, const void*, const void*, const void*, int64_t, int64_t, double) { no_cuda(); }
void reduce(ReduceOp, DType, void*, const View&, const View&) { no_cuda(); }
void arg_reduce(bool, DType, int64_t*, const View&, const View&) { no_cuda(); }
void gemm(DType, bool, bool, int64_t, int64_t, int64_t, double, const void*, int64_t, int64_t, const void*, int64_t,
          int64_t, double, void*, int64_t, int64_t, int64_t) { no_cuda(); }
void set_tf32(bool) {}
void im2col(DType, const void*, void*, const ConvShape&, bool) { no_cuda(); }
void col2im(DType, const void*, void*, const ConvShape&) { no_cuda(); }
void add_channel_bias(DType, void*, const void*, int64_t, int64_t, int64_t) { no_cuda(); }
void index_select(DType, const void*, const int64_t*, void*, int64_t, int64_t, int64_t, int64_t) { no_cuda(); }
void index_add(DType, const void*, const int64_t*, const int64_t*, void*, int64_t, int64_t, int64_t, int64_t) { no_cuda(); }
void gather(DType, const void*, const int64_t*, void*, int64_t, int64_t, int64_t, int64_t) { no_cuda(); }
void scatter_add(DType, const void*, const int64_t*, void*, int64_t, int64_t, int64_t, int64_t) { no_cuda(); }
void adam_step(DType, void*, const void*, void*, void*, int64_t, double, double, double, double, double, bool, double,
               double) { no_cuda(); }

}  // namespace vq::cuda
