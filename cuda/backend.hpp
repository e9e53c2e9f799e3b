// The CUDA backend's entry points, seen by tensor/ and by nothing above it.
//
// This header is always compiled. When the project is built without CUDA,
// cuda/stub.cpp defines every function to report that clearly, so models and
// tools never need #ifdefs: they pass Device::cuda() and get a clear error.
// Each entry is the device twin of a CPU kernel in tensor/ with the same file
// stem (elementwise, reduce, matmul, conv, index, fused).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.hpp"
#include "tensor/op_kinds.hpp"

namespace vq::cuda {

bool built_with_cuda();
// True when built with CUDA and at least one device is visible.
bool available();
// Visible devices (0 without CUDA), and the one this process uses from now
// on (cudaSetDevice): one GPU per process, chosen before any CUDA work.
int device_count();
void use_device(int index);

// --- memory: a caching pool over cudaMalloc ------------------------------
void* device_alloc(size_t nbytes);
void device_free(void* ptr, size_t nbytes);
void copy_host_to_device(void* dst, const void* src, size_t nbytes);
void copy_device_to_host(void* dst, const void* src, size_t nbytes);
void copy_device_to_device(void* dst, const void* src, size_t nbytes);
void synchronize();

struct PoolStats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;
    size_t peak_bytes_in_use = 0;
    size_t cuda_malloc_calls = 0;
};
PoolStats pool_stats();

// A strided view as kernels see it: element pointer plus shape and strides
// (in elements), at most kMaxDims dims.
constexpr int kMaxDims = 8;
struct View {
    void* data = nullptr;
    int ndim = 0;
    int64_t shape[kMaxDims] = {};
    int64_t strides[kMaxDims] = {};
};

// --- elementwise (cuda/elementwise.cu) --------------------------------------
// All views have the output's shape (inputs broadcast with stride 0).
void fill(const View& out, DType dtype, double value);
void unary(UnaryOp op, DType dtype, const View& out, const View& x);
void binary(BinaryOp op, DType dtype, const View& out, const View& a, const View& b);
// out = a op scalar, without materialising the scalar on the device
void binary_scalar(BinaryOp op, DType dtype, const View& out, const View& a, double b);
// out = convert(src): strided to strided, any dtypes.
void copy(const View& out, DType out_dtype, const View& src, DType src_dtype);

// --- reductions (cuda/reduce.cu) --------------------------------------------
// out (contiguous, `kept` order) = reduce over the `reduced` dims of x. Both
// views address the same tensor: `kept` holds the kept dims' shape/strides,
// `reduced` the reduced dims'. One block per output, fixed tree order:
// deterministic from run to run.
void reduce(ReduceOp op, DType dtype, void* out, const View& kept, const View& reduced);
// argmax/argmin along one dim: out i64 (contiguous in `kept` order).
void arg_reduce(bool want_max, DType dtype, int64_t* out, const View& kept, const View& along);

// --- GEMM through cuBLAS (cuda/matmul.cu) -----------------------------------
// Row-major, batched with element strides between batches (0 = shared):
// C[b] = alpha op(A[b]) op(B[b]) + beta C[b]
void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const void* A,
          int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, double beta, void* C,
          int64_t ldc, int64_t stride_c, int64_t batch);
// TF32 tensor-core GEMMs for f32 (off by default: FP32 is exact-ish).
void set_tf32(bool enabled);

// --- convolution helpers (cuda/conv.cu) ---------------------------------------
struct ConvShape {
    int64_t N, C, H, W, kh, kw, Ho, Wo, stride_h, stride_w, pad_h, pad_w;
};
// x: [N, C, H, W] -> cols: [N, C*kh*kw, Ho*Wo] (per image), or, with
// `rows_outer`, [C*kh*kw, N, Ho*Wo] (for the weight gradient's single GEMM)
void im2col(DType dtype, const void* x, void* cols, const ConvShape& s, bool rows_outer);
// cols: [N, C*kh*kw, Ho*Wo] -> x: [N, C, H, W]; each x element gathers its
// column entries in a fixed order (no atomics)
void col2im(DType dtype, const void* cols, void* x, const ConvShape& s);
// y: [N, C, HW] += bias[C]
void add_channel_bias(DType dtype, void* y, const void* bias, int64_t N, int64_t C, int64_t HW);

// --- indexing (cuda/index.cu) ------------------------------------------------
// [outer, n, inner] gathers along the middle dim by idx[k] -> [outer, k, inner]
void index_select(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                  int64_t inner);
// out [outer, n, inner] = onehot(idx)[k, n]^T @ src [outer, k, inner]: a
// deterministic scatter-add as one batched GEMM (floating dtypes).
void index_add_onehot(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                      int64_t inner);
// out [outer, n, inner] = 0, then rows += src rows; `order`/`starts` group the
// k source rows by target row (a CSR built on the host), summed in index order.
void index_add(DType dtype, const void* src, const int64_t* order, const int64_t* starts, void* out, int64_t outer,
               int64_t n, int64_t k, int64_t inner);
// torch.gather / its adjoint on [outer, n or k, inner] blocks
void gather(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
            int64_t inner);
void scatter_add(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                 int64_t inner);

// Kernels that meet an out-of-range index record it in a device flag instead
// of stopping the stream; the flag is read (and an exception thrown) at the
// next device-to-host copy or synchronize().
void check_device_errors();

// --- fused (cuda/fused.cu) ----------------------------------------------------
void adam_step(DType dtype, void* param, const void* grad, void* m, void* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool decoupled, double bias1, double bias2_sqrt);

// The EMA codebook step of tensor/fused.cpp, as two kernels around a sum:
// count, usage: [K]; sums: [K, D]; stats: [K, D+1]
void ema_accumulate(DType dtype, void* count, void* sums, void* usage, const void* stats, int64_t K, int64_t D, double decay);
// e: [K, D] = sums / smoothed(count, *total)
void ema_codebook(DType dtype, void* e, const void* count, const void* sums, const void* total, int64_t K, int64_t D,
                  double eps);

}  // namespace vq::cuda
