#pragma once
// Shared by the fuzz targets: a property check that aborts (so that libFuzzer
// keeps the input as a crash), input splitting, and a scratch directory for
// parsers that read files.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace portcullis::fuzz {

[[noreturn]] inline void checkFailed(const char* file, int line, const char* condition,
                                     std::string_view detail) {
    std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, condition);
    if (!detail.empty()) {
        std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
    }
    std::abort();
}

inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// True when every byte is printable ASCII (what may go into a one-line message).
inline bool printableAscii(std::string_view text) {
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) return false;
    }
    return true;
}

// Cuts an input into chunks whose lengths come from a separate byte sequence
// (the fuzz input read backwards), so that the same bytes are tried with many
// different splits. Each chunk is 1..maxChunk bytes.
class Splitter {
  public:
    Splitter(std::string_view bytes, std::size_t maxChunk) : bytes_(bytes), maxChunk_(maxChunk) {}
    bool done() const { return pos_ >= bytes_.size(); }
    std::string_view next() {
        std::size_t length = 1;
        if (!bytes_.empty()) {
            const auto b =
                static_cast<unsigned char>(bytes_[bytes_.size() - 1 - cut_ % bytes_.size()]);
            length = 1 + (b + cut_) % maxChunk_;
            ++cut_;
        }
        const std::string_view chunk = bytes_.substr(pos_, length);
        pos_ += chunk.size();
        return chunk;
    }

  private:
    std::string_view bytes_;
    std::size_t maxChunk_;
    std::size_t pos_ = 0;
    std::size_t cut_ = 0;
};

// A private directory under $TMPDIR for this process, removed at exit. The
// path is fixed once created (the files in it are the inputs of one run).
class ScratchDir {
  public:
    ScratchDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "portcullis-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::abort();
        }
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

inline void writeFile(const std::filesystem::path& file, std::string_view bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) checkFailed(__FILE__, __LINE__, "cannot write the scratch file", file.string());
}

}  // namespace portcullis::fuzz

#define FUZZ_CHECK(condition)           \
    ((condition) ? static_cast<void>(0) \
                 : ::portcullis::fuzz::checkFailed(__FILE__, __LINE__, #condition, {}))
#define FUZZ_CHECK_MSG(condition, detail) \
    ((condition) ? static_cast<void>(0)   \
                 : ::portcullis::fuzz::checkFailed(__FILE__, __LINE__, #condition, (detail)))
