// io/files: atomic writes through unique temporary files, clear read errors,
// and the output-over-input check that every tool runs.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "io/files.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("write_file_atomic replaces the file whole and leaves no temporary file") {
    const std::string d = test_dir("io", "atomic", true);
    io::write_file_atomic(d + "/a.bin", "first");
    io::write_file_atomic(d + "/a.bin", "second, longer");
    CHECK(io::read_file(d + "/a.bin") == "second, longer");
    CHECK(names_in(d) == std::vector<std::string>{"a.bin"});
    CHECK(io::file_size(d + "/a.bin") == 14);
}

TEST_CASE("the temporary name is unique: a user's own OUT.tmp is never touched") {
    const std::string d = test_dir("io", "unique", true);
    io::write_file_atomic(d + "/out.png.tmp", "the user's file");
    io::write_file_atomic(d + "/out.png", "new");
    CHECK(io::read_file(d + "/out.png.tmp") == "the user's file");
    CHECK(names_in(d) == std::vector<std::string>{"out.png", "out.png.tmp"});
}

TEST_CASE("AtomicFile writes on commit and removes its temporary file otherwise") {
    const std::string d = test_dir("io", "file", true);
    {
        io::AtomicFile f(d + "/kept");
        std::fputs("abc", f.file());
        f.commit();
    }
    {
        io::AtomicFile f(d + "/dropped");
        std::fputs("never seen", f.file());
    }  // an error before commit(): no file, no temporary
    CHECK(io::read_file(d + "/kept") == "abc");
    CHECK(names_in(d) == std::vector<std::string>{"kept"});
}

TEST_CASE("writing over a directory is refused, and leaves nothing behind") {
    const std::string d = test_dir("io", "dir", true);
    fs::create_directories(d + "/sub");
    CHECK(message_contains([&] { io::write_file_atomic(d + "/sub", "x"); }, "sub: is a directory, expected a file path"));
    CHECK(message_contains([&] { io::AtomicFile f(d + "/sub"); }, "is a directory"));
    CHECK(names_in(d) == std::vector<std::string>{"sub"});
    CHECK(fs::is_empty(d + "/sub"));
}

TEST_CASE("read errors say what the path is") {
    const std::string d = test_dir("io", "read", true);
    CHECK(message_contains([&] { io::read_file(d + "/none"); }, "none: file not found"));
    CHECK(message_contains([&] { io::read_file(d); }, "is a directory, expected a file"));
    CHECK(message_contains([&] { io::write_file_atomic("/proc/vq_no/such", "x"); }, "/proc/vq_no/such: cannot write ("));
}

TEST_CASE("same_file compares the file, not the spelling") {
    const std::string d = test_dir("io", "same", true);
    io::write_file_atomic(d + "/a", "1");
    io::write_file_atomic(d + "/b", "1");
    fs::create_symlink(d + "/a", d + "/link");
    fs::create_hard_link(d + "/a", d + "/hard");
    CHECK(io::same_file(d + "/a", d + "/./a"));
    CHECK(io::same_file(d + "/a", d + "/link"));
    CHECK(io::same_file(d + "/a", d + "/hard"));
    CHECK_FALSE(io::same_file(d + "/a", d + "/b"));   // equal bytes, another file
    CHECK_FALSE(io::same_file(d + "/a", d + "/new"));  // an output that does not exist yet
    CHECK(message_contains([&] { io::refuse_output_over_input({{"--out", d + "/link"}}, {{"--in", d + "/a"}}); },
                           "--out " + d + "/link is the same file as --in " + d + "/a"));
    io::refuse_output_over_input({{"--out", d + "/b"}}, {{"--in", d + "/a"}, {"--prior", ""}});  // no throw
}

TEST_CASE("make_output_directory names the flag and the reason") {
    const std::string d = test_dir("io", "mkdir", true);
    io::write_file_atomic(d + "/file", "x");
    CHECK(message_contains([&] { io::make_output_directory(d + "/file", "--out"); }, "--out " + d + "/file: cannot create"));
    io::make_output_directory(d + "/a/b", "--out");
    CHECK(fs::is_directory(d + "/a/b"));
}
