// The NCCL engine: CUDA tensors are reduced on the GPUs by NCCL, one GPU per
// rank; MPI starts the ranks, carries NCCL's id from rank 0 to the others,
// and still handles CPU tensors. This is how llm.c trains on many GPUs.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "dist/mpi_engine.hpp"

namespace vq::dist {

namespace {

void check_nccl(ncclResult_t r, const char* what) {
    if (r != ncclSuccess) throw std::runtime_error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(r));
}

ncclDataType_t nccl_type(DType d) {
    switch (d) {
        case DType::F32: return ncclFloat32;
        case DType::F64: return ncclFloat64;
        case DType::I64: return ncclInt64;
    }
    throw std::invalid_argument("NCCL: unsupported dtype");
}

class NcclCommunicator : public MpiCommunicator {
public:
    NcclCommunicator() {
        ncclUniqueId id;
        if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
        MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
        check_nccl(ncclCommInitRank(&comm_, world_, id, rank_), "ncclCommInitRank");
    }
    ~NcclCommunicator() override { ncclCommDestroy(comm_); }
    const char* engine() const override { return "nccl"; }

    // On the legacy default stream, where every kernel of cuda/ runs, so the
    // reduction is ordered after the backward that produced the gradients.
    void all_reduce_sum(Tensor& t) override {
        if (!t.is_cuda()) return MpiCommunicator::all_reduce_sum(t);
        if (!t.is_contiguous()) throw std::invalid_argument("all_reduce_sum: the tensor must be contiguous, got " + t.shape_str());
        check_nccl(ncclAllReduce(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), ncclSum, comm_, 0),
                   "ncclAllReduce");
        cudaStreamSynchronize(0);
    }
    Tensor all_gather(const Tensor& t_in) override {
        if (!t_in.is_cuda()) return MpiCommunicator::all_gather(t_in);
        Tensor t = t_in.contiguous();
        Shape shape = t.shape();
        if (shape.empty()) shape = {1};
        shape[0] *= world_;
        Tensor out = Tensor::empty(shape, t.dtype(), t.device());
        check_nccl(ncclAllGather(t.raw_data(), out.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), comm_, 0),
                   "ncclAllGather");
        cudaStreamSynchronize(0);
        return out;
    }
    void broadcast(Tensor& t, int root) override {
        if (!t.is_cuda()) return MpiCommunicator::broadcast(t, root);
        check_nccl(ncclBroadcast(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), root, comm_, 0),
                   "ncclBroadcast");
        cudaStreamSynchronize(0);
    }

private:
    ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator() { return std::make_unique<NcclCommunicator>(); }

}  // namespace vq::dist
