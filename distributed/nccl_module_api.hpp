// NCCL lives in a module (libvqnccl.so), opened only when the NCCL engine is
// chosen, so that no other run loads libnccl. The module works on raw device
// pointers on the default stream; distributed/nccl.cpp wraps it in a Communicator.
#pragma once

#include <cstddef>

namespace vq::distributed {

enum class NcclType { F32, F64, I64 };

inline constexpr int kNcclModuleApiVersion = 1;
inline constexpr size_t kNcclIdBytes = 128;  // sizeof(ncclUniqueId)

// Each returns an empty string on success, else NCCL's error text.
struct NcclModuleApi {
    int version;
    const char* (*unique_id)(unsigned char* id);                            // rank 0
    const char* (*init)(void** comm, int world, int rank, const unsigned char* id);
    void (*destroy)(void* comm);
    const char* (*all_reduce_sum)(void* comm, void* data, size_t count, NcclType type);
    const char* (*all_gather)(void* comm, const void* send, void* recv, size_t count, NcclType type);
    const char* (*broadcast)(void* comm, void* data, size_t count, NcclType type, int root);
};

}  // namespace vq::distributed

extern "C" const vq::distributed::NcclModuleApi* vq_nccl_module_api();
