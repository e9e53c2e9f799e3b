// Finding and opening a backend module (a shared library opened with dlopen
// on first use, so that runs which never need it never load it): the CUDA
// kernels (cuda/loader.cpp) and the NCCL engine (distributed/nccl.cpp).
#pragma once

#include <functional>
#include <string>

namespace vq::cuda {

struct ModuleSearch {
    const char* file;         // e.g. "libvqcuda.so"
    const char* env_var;      // a path that overrides the search, e.g. "VQ_CUDA_MODULE"
    const char* build_dir;    // the module's folder in the build tree, beside the executables' parent
    std::string installed;    // where `meson install` puts it
    const char* entry;        // the one symbol the module exports
};

// Tries $env_var, then <exe>/../<build_dir>/<file>, then `installed`, in
// order. Returns the entry symbol of the first module that opens and that
// `accept` takes (e.g. its API version matches); otherwise nullptr, with
// `tried` listing each path and why it failed.
void* open_module_entry(const ModuleSearch& search, const std::function<bool(void* entry)>& accept, std::string& tried);

}  // namespace vq::cuda
