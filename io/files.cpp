#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace vq::io {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw std::runtime_error(path + ": " + what); }

std::string reason(int err) { return std::strerror(err); }

// Why `path` cannot be read as a file, or "" when it can be opened.
void check_readable_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) fail(path, "file not found");
        fail(path, "cannot open (" + reason(errno) + ")");
    }
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory, expected a file");
}

// The temporary name beside `path`, made unique by mkstemp; returns its fd.
int open_temporary(const std::string& path, std::string& tmp) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) fail(path, "is a directory, expected a file path to write");
    tmp = path + ".tmp-XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) fail(path, "cannot write (" + reason(errno) + ")");
    ::fchmod(fd, 0644);  // mkstemp makes 0600; outputs are ordinary files
    return fd;
}

void rename_into_place(const std::string& tmp, const std::string& path) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail(path, "cannot replace it with the new file (rename failed: " + reason(e) + ")");
    }
}

}  // namespace

std::string read_file(const std::string& path) {
    check_readable_file(path);
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(path, "cannot open (" + reason(errno) + ")");
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    bool bad = std::ferror(f);
    int e = errno;
    std::fclose(f);
    if (bad) fail(path, "read failed (" + reason(e) + ")");
    return out;
}

uint64_t file_size(const std::string& path) {
    check_readable_file(path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail(path, "cannot open (" + reason(errno) + ")");
    return uint64_t(st.st_size);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    std::string tmp;
    int fd = open_temporary(path, tmp);
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            fail(path, "write failed (" + reason(e) + ")");
        }
        done += size_t(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail(path, "fsync/close failed (" + reason(e) + ")");
    }
    rename_into_place(tmp, path);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    int fd = open_temporary(path_, tmp_);
    file_ = ::fdopen(fd, "wb");
    if (!file_) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp_.c_str());
        fail(path_, "cannot write (" + reason(e) + ")");
    }
}

AtomicFile::~AtomicFile() {
    if (file_) {
        std::fclose(file_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFile::commit() {
    FILE* f = file_;
    file_ = nullptr;
    bool ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    int e = errno;
    if (std::fclose(f) != 0 && ok) ok = false, e = errno;
    if (!ok) {
        ::unlink(tmp_.c_str());
        fail(path_, "write failed (" + reason(e) + ")");
    }
    rename_into_place(tmp_, path_);
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    if (a.empty() || b.empty() || ::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void refuse_output_over_input(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
    for (const auto& [out_flag, out] : outputs)
        for (const auto& [in_flag, in] : inputs)
            if (same_file(out, in))
                throw std::invalid_argument(out_flag + " " + out + " is the same file as " + in_flag + " " + in +
                                            ": refusing to overwrite an input; choose another output path");
}

void make_output_directory(const std::string& dir, const std::string& flag) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw std::runtime_error(flag + " " + dir + ": cannot create the directory (" +
                                 (ec ? ec.message() : std::string("a file of that name exists")) + ")");
}

}  // namespace vq::io
