// Running the project's executables from tests: exit codes, output, signals.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace vq::testing {

// The build's tools/ folder, passed by meson in VQ_TOOLS_DIR.
inline std::string tool(const std::string& name) {
    const char* dir = std::getenv("VQ_TOOLS_DIR");
    return std::string(dir ? dir : "build/tools") + "/" + name;
}

inline std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

struct ProcessResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

// Runs `program args...` through the shell, waits, returns its exit code and output.
inline ProcessResult run_tool(const std::string& program, const std::vector<std::string>& args) {
    std::string cmd = quote(program);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " 2>&1 </dev/null";
    ProcessResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// Starts a program in the background (output to `log`); returns its pid.
inline pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
        FILE* f = std::freopen(log.c_str(), "w", stderr);
        (void)f;
        dup2(fileno(stderr), fileno(stdout));
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(program.c_str()));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(program.c_str(), argv.data());
        _exit(127);
    }
    return pid;
}

inline int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace vq::testing
