// Files, for every folder: whole-file reads with messages that say what the
// path is, atomic writes through a unique temporary file, and the one check
// that keeps a tool's output from landing on one of its inputs.
//
// Every write in the project goes through AtomicFile or write_file_atomic: the
// bytes go to `<path>.tmp-XXXXXX` in the same folder (unique, so it never
// clobbers a file of the user's), are fsynced, and are renamed over `path`.
// A crash at any moment leaves the old file or the new one, never a torn one,
// and a failure removes the temporary file.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace vq::io {

// The whole file. Errors name the path and say why: not found, a directory,
// or the system's reason.
std::string read_file(const std::string& path);
// The file's size in bytes, with the same errors as read_file.
uint64_t file_size(const std::string& path);

void write_file_atomic(const std::string& path, const std::string& bytes);

// For writers that need a FILE* (libpng): open, write through file(), then
// commit(). Destroyed without commit(), it removes the temporary file.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    FILE* file() { return file_; }
    void commit();  // fsync, close, rename over the path

private:
    std::string path_, tmp_;
    FILE* file_ = nullptr;
};

// A flag and the path given to it, e.g. {"--out", "a.png"}.
using NamedPath = std::pair<std::string, std::string>;

// True when both paths exist and are the same file (device and inode, so a
// different spelling, a symlink or a hard link counts as the same).
bool same_file(const std::string& a, const std::string& b);

// Throws std::invalid_argument naming both flags and paths when any output is
// the same file as any input. Empty paths are skipped.
void refuse_output_over_input(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

// Creates `dir` (and its parents) if needed; the error names `flag` and the
// path and says why, e.g. "--out runs/a: cannot create the directory (...)".
void make_output_directory(const std::string& dir, const std::string& flag);

}  // namespace vq::io
