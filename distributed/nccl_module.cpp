// The NCCL module: thin calls into libnccl on the default stream, where every
// kernel of cuda/ runs, so each collective is ordered after the work that
// produced its input.
#include <nccl.h>

#include <cstring>

#include "distributed/nccl_module_api.hpp"

namespace {

using vq::distributed::NcclType;

static_assert(sizeof(ncclUniqueId) == vq::distributed::kNcclIdBytes, "ncclUniqueId changed size");

const char* result(ncclResult_t r) { return r == ncclSuccess ? "" : ncclGetErrorString(r); }

ncclDataType_t nccl_type(NcclType t) {
    switch (t) {
        case NcclType::F32: return ncclFloat32;
        case NcclType::F64: return ncclFloat64;
        case NcclType::I64: return ncclInt64;
    }
    return ncclFloat32;
}

const char* unique_id(unsigned char* id) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    std::memcpy(id, &u, sizeof u);
    return result(r);
}

const char* init(void** comm, int world, int rank, const unsigned char* id) {
    ncclUniqueId u;
    std::memcpy(&u, id, sizeof u);
    return result(ncclCommInitRank(reinterpret_cast<ncclComm_t*>(comm), world, u, rank));
}

void destroy(void* comm) { ncclCommDestroy(static_cast<ncclComm_t>(comm)); }

const char* all_reduce_sum(void* comm, void* data, size_t count, NcclType type) {
    return result(ncclAllReduce(data, data, count, nccl_type(type), ncclSum, static_cast<ncclComm_t>(comm), nullptr));
}

const char* all_gather(void* comm, const void* send, void* recv, size_t count, NcclType type) {
    return result(ncclAllGather(send, recv, count, nccl_type(type), static_cast<ncclComm_t>(comm), nullptr));
}

const char* broadcast(void* comm, void* data, size_t count, NcclType type, int root) {
    return result(ncclBroadcast(data, data, count, nccl_type(type), root, static_cast<ncclComm_t>(comm), nullptr));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const vq::distributed::NcclModuleApi* vq_nccl_module_api() {
    static const vq::distributed::NcclModuleApi api = {vq::distributed::kNcclModuleApiVersion, unique_id, init, destroy,
                                                all_reduce_sum, all_gather, broadcast};
    return &api;
}
