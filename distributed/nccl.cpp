// The NCCL engine: CUDA tensors are reduced on the GPUs by NCCL, one GPU per
// rank; MPI starts the ranks, carries NCCL's id from rank 0 to the others,
// and still handles CPU tensors. This is how llm.c trains on many GPUs.
// libnccl itself is reached through a module opened here (libvqnccl.so), so
// that no other run pays for loading it.
#include <mpi.h>

#include <stdexcept>
#include <string>

#include "cuda/backend.hpp"
#include "cuda/module_loader.hpp"
#include "distributed/mpi_engine.hpp"
#include "distributed/nccl_module_api.hpp"

namespace vq::distributed {

namespace {

// $VQ_NCCL_MODULE, then the build tree (<exe>/../distributed/), then the install.
const NcclModuleApi& nccl_module() {
    static const NcclModuleApi* api = [] {
        using Entry = const NcclModuleApi* (*)();
        std::string tried;
        void* entry = cuda::open_module_entry(
            {"libvqnccl.so", "VQ_NCCL_MODULE", "distributed", VQ_NCCL_MODULE_INSTALLED, "vq_nccl_module_api"},
            [](void* e) { return reinterpret_cast<Entry>(e)()->version == kNcclModuleApiVersion; }, tried);
        if (!entry) throw std::runtime_error("the NCCL engine (libvqnccl.so) could not be loaded; tried:" + tried);
        return reinterpret_cast<Entry>(entry)();
    }();
    return *api;
}

void check(const char* error, const char* what) {
    if (error && *error) throw std::runtime_error(std::string("NCCL: ") + what + ": " + error);
}

NcclType nccl_type(DType d) {
    switch (d) {
        case DType::F32: return NcclType::F32;
        case DType::F64: return NcclType::F64;
        case DType::I64: return NcclType::I64;
    }
    throw std::invalid_argument("NCCL: unsupported dtype");
}

class NcclCommunicator : public MpiCommunicator {
public:
    NcclCommunicator() : nccl_(nccl_module()) {
        unsigned char id[kNcclIdBytes] = {};
        if (rank_ == 0) check(nccl_.unique_id(id), "ncclGetUniqueId");
        MPI_Bcast(id, int(kNcclIdBytes), MPI_BYTE, 0, MPI_COMM_WORLD);
        check(nccl_.init(&comm_, world_, rank_, id), "ncclCommInitRank");
    }
    ~NcclCommunicator() override {
        if (comm_) nccl_.destroy(comm_);
    }
    const char* engine() const override { return "nccl"; }

    void all_reduce_sum(Tensor& t) override {
        if (!t.is_cuda()) return MpiCommunicator::all_reduce_sum(t);
        if (!t.is_contiguous()) throw std::invalid_argument("all_reduce_sum: the tensor must be contiguous, got " + t.shape_str());
        check(nccl_.all_reduce_sum(comm_, t.raw_data(), size_t(t.numel()), nccl_type(t.dtype())), "ncclAllReduce");
        cuda::synchronize();
    }
    Tensor all_gather(const Tensor& t_in) override {
        if (!t_in.is_cuda()) return MpiCommunicator::all_gather(t_in);
        Tensor t = t_in.contiguous();
        Tensor out = Tensor::empty(gathered_shape(t), t.dtype(), t.device());
        check(nccl_.all_gather(comm_, t.raw_data(), out.raw_data(), size_t(t.numel()), nccl_type(t.dtype())),
              "ncclAllGather");
        cuda::synchronize();
        return out;
    }
    void broadcast(Tensor& t, int root) override {
        if (!t.is_cuda()) return MpiCommunicator::broadcast(t, root);
        check(nccl_.broadcast(comm_, t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), root), "ncclBroadcast");
        cuda::synchronize();
    }

private:
    const NcclModuleApi& nccl_;
    void* comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator() { return std::make_unique<NcclCommunicator>(); }

}  // namespace vq::distributed
