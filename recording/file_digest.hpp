#pragma once
// SHA-256 and size of a whole file, streamed (recordings can be gigabytes).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace portcullis::recording {

struct FileDigest {
    std::uint64_t size = 0;
    std::string sha256;  // lowercase hex
};

Result<FileDigest> digestFile(const std::filesystem::path& path);
// Size and SHA-256 of the first `size` bytes only (a recording checkpoint);
// an error when the file is shorter.
Result<FileDigest> digestFilePrefix(const std::filesystem::path& path, std::uint64_t size);

// Incremental SHA-256 (the gateway hashes as it writes).
class Sha256Stream {
  public:
    Sha256Stream();
    Sha256Stream(const Sha256Stream&) = delete;
    Sha256Stream& operator=(const Sha256Stream&) = delete;
    void update(std::string_view bytes);
    std::string finishHex();  // once
    // The digest of what was hashed so far, from a copy of the context: the
    // stream carries on (a checkpoint of a file still being written).
    std::string snapshotHex() const;

  private:
    struct Free {
        void operator()(evp_md_ctx_st* ctx) const;
    };
    std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace portcullis::recording
