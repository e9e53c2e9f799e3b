// The module's one exported symbol: the table of its entry points. Everything
// else in libvqcuda.so is hidden and bound inside it (-Bsymbolic), so its
// functions never resolve to the loader's same-named trampolines.
#include "cuda/module_api.hpp"

extern "C" __attribute__((visibility("default"))) const vq::cuda::ModuleApi* vq_cuda_module_api() {
    static const vq::cuda::ModuleApi api = {
        vq::cuda::kModuleApiVersion,
#define VQ_CUDA_API_ENTRY(name) &::vq::cuda::name,
        VQ_CUDA_ENTRY_POINTS(VQ_CUDA_API_ENTRY)
#undef VQ_CUDA_API_ENTRY
    };
    return &api;
}
