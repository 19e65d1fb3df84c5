#include "recording/file_digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "common/encoding.hpp"
#include "common/unique_fd.hpp"

namespace portcullis::recording {

namespace {

std::string errnoText() {
    return std::error_code(errno, std::generic_category()).message();
}

}  // namespace

void Sha256Stream::Free::operator()(evp_md_ctx_st* ctx) const {
    EVP_MD_CTX_free(ctx);
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    // Failing here means OpenSSL itself is broken (no memory, no SHA-256).
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 is not available");
    }
}

void Sha256Stream::update(std::string_view bytes) {
    if (!ctx_) throw std::logic_error("Sha256Stream::update after finishHex");
    if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) {
        throw std::runtime_error("SHA-256 update failed");
    }
}

std::string Sha256Stream::finishHex() {
    if (!ctx_) throw std::logic_error("Sha256Stream::finishHex called twice");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest, &length) != 1) {
        throw std::runtime_error("SHA-256 final failed");
    }
    ctx_.reset();  // a finished context cannot be updated; make misuse loud
    return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string Sha256Stream::snapshotHex() const {
    if (!ctx_) throw std::logic_error("Sha256Stream::snapshotHex after finishHex");
    const std::unique_ptr<evp_md_ctx_st, Free> copy(EVP_MD_CTX_new());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1 ||
        EVP_DigestFinal_ex(copy.get(), digest, &length) != 1) {
        throw std::runtime_error("SHA-256 snapshot failed");
    }
    return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

namespace {

// The first `limit` bytes (all of them when unset).
Result<FileDigest> digest(const std::filesystem::path& path, std::optional<std::uint64_t> limit) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return makeError("cannot open " + path.string() + ": " + errnoText());
    Sha256Stream hash;
    FileDigest result;
    std::vector<char> buffer(1u << 20);
    for (;;) {
        std::size_t want = buffer.size();
        if (limit)
            want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *limit - result.size));
        if (want == 0) break;
        const ssize_t n = ::read(fd.get(), buffer.data(), want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return makeError("cannot read " + path.string() + ": " + errnoText());
        if (n == 0) break;
        hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        result.size += static_cast<std::uint64_t>(n);
    }
    if (limit && result.size < *limit) {
        return makeError(path.string() + " has " + std::to_string(result.size) +
                         " bytes, fewer than " + std::to_string(*limit));
    }
    result.sha256 = hash.finishHex();
    return result;
}

}  // namespace

Result<FileDigest> digestFile(const std::filesystem::path& path) {
    return digest(path, std::nullopt);
}

Result<FileDigest> digestFilePrefix(const std::filesystem::path& path, std::uint64_t size) {
    return digest(path, size);
}

}  // namespace portcullis::recording
