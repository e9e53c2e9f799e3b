#include "cuda/module_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace vq::cuda {

void* open_module_entry(const ModuleSearch& s, const std::function<bool(void* entry)>& accept, std::string& tried) {
    std::vector<std::string> paths;
    if (const char* env = std::getenv(s.env_var); env && *env) paths.push_back(env);
    char exe[PATH_MAX];
    if (ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1); n > 0) {
        exe[n] = 0;
        paths.push_back((std::filesystem::path(exe).parent_path().parent_path() / s.build_dir / s.file).string());
    }
    paths.push_back(s.installed);
    for (const std::string& path : paths) {
        if (!std::filesystem::exists(path)) {
            tried += "\n  " + path + ": not there";
            continue;
        }
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            tried += "\n  " + path + ": " + dlerror();
            continue;
        }
        void* entry = dlsym(handle, s.entry);
        if (entry && accept(entry)) return entry;
        tried += "\n  " + path + ": not a " + s.file + " of this build";
    }
    return nullptr;
}

}  // namespace vq::cuda
