#include "db/master_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "common/unique_fd.hpp"
#include "db/error.hpp"
#include "db/state_dir.hpp"

namespace portcullis::db {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

struct EvpCtxFree {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using EvpCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCtxFree>;

std::string errnoText(int err) {
    return std::strerror(err);
}

EvpCtxPtr newCtx() {
    EvpCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw Error("master key: cannot allocate a cipher context");
    return ctx;
}

// Reads exactly `size` bytes (or fewer at end of file); -1 on error.
ssize_t readFull(int fd, std::uint8_t* out, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, out + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

bool writeFull(int fd, const std::uint8_t* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd, data + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void syncDirectory(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0) ::fsync(fd.get());  // best effort: the key itself is already on disk
}

}  // namespace

Result<MasterKey> MasterKey::load(const StateDir& dir) {
    const fs::path file = dir.masterKey();
    const std::string name = file.string();
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ENOENT) {
            // With a store beside it, a new key would strand every secret sealed
            // with the old one (issue 12, finding 10): restoring is the way out.
            if (dir.exists()) {
                return makeError("no master key at " + name +
                                 ": restore master.key from your backup (the TOTP secrets in "
                                 "the store are sealed with it; a new key cannot open them)");
            }
            return makeError("no master key at " + name +
                             " (run `portcullis init`, or pass --state-dir)");
        }
        if (err == EACCES) {
            return makeError("cannot read master key " + name +
                             ": permission denied (run as root or as the owner of " +
                             dir.root().string() + ")");
        }
        if (err == ELOOP) {
            return makeError("master key " + name +
                             " is a symbolic link; replace it with the key file itself");
        }
        return makeError("cannot open master key " + name + ": " + errnoText(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        const int err = errno;
        return makeError("cannot stat master key " + name + ": " + errnoText(err));
    }
    if (!S_ISREG(st.st_mode)) {
        return makeError("master key " + name + " is not a regular file");
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        return makeError("master key " + name +
                         " is accessible by group or others; fix with: chmod 600 " + name);
    }
    if (st.st_size != static_cast<off_t>(kSize)) {
        return makeError("master key " + name + " has " + std::to_string(st.st_size) +
                         " bytes instead of " + std::to_string(kSize) +
                         "; restore it from your backup (TOTP secrets sealed with it cannot "
                         "be read without it)");
    }
    // Read one byte more than expected to notice a file that grew meanwhile.
    SecretBytes buffer(kSize + 1);
    const ssize_t n = readFull(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
        const int err = errno;
        return makeError("cannot read master key " + name + ": " + errnoText(err));
    }
    if (static_cast<std::size_t>(n) != kSize) {
        return makeError("master key " + name + " has " + std::to_string(n) + " bytes instead of " +
                         std::to_string(kSize) + "; restore it from your backup");
    }
    SecretBytes key(buffer.data(), kSize);
    return MasterKey(std::move(key));
}

Result<MasterKey> MasterKey::createOrLoad(const StateDir& dir) {
    const fs::path file = dir.masterKey();
    std::error_code ec;
    if (fs::exists(fs::symlink_status(file, ec))) return load(dir);

    // The key is written to a fresh temporary file (O_CREAT|O_EXCL, 0600),
    // synced, given the directory's owner, and only then published under its
    // name with link(2), which fails if master.key appeared meanwhile. So no
    // reader ever sees a half-written key, and a crash leaves no empty
    // master.key behind that would make every later start fail.
    SecretBytes key(kSize);
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
        return makeError("cannot generate the master key: the system's random source failed");
    }
    fs::path temp;
    UniqueFd fd(-1);
    for (int attempt = 0; attempt < 16 && fd.get() < 0; ++attempt) {
        std::uint8_t suffix[8];
        if (RAND_bytes(suffix, sizeof suffix) != 1) {
            return makeError("cannot generate the master key: the system's random source failed");
        }
        std::string tag;
        for (auto b : suffix) tag += "0123456789abcdef"[b & 0xf];
        temp = dir.root() / (".master.key." + tag);
        fd.reset(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (const int err = errno; fd.get() < 0 && err != EEXIST) {
            return makeError("cannot create master key in " + dir.root().string() + ": " +
                             errnoText(err) +
                             " (does the state directory exist? run `portcullis init`)");
        }
    }
    if (fd.get() < 0) {
        return makeError("cannot create master key in " + dir.root().string() +
                         ": temporary names exhausted");
    }
    auto fail = [&](const std::string& what) -> Result<MasterKey> {
        const int err = errno;
        fd.reset();
        ::unlink(temp.c_str());
        return makeError("cannot write master key " + file.string() + ": " + what +
                         (err ? ": " + errnoText(err) : std::string()));
    };
    if (!writeFull(fd.get(), key.data(), key.size())) return fail("write");
    if (::fsync(fd.get()) != 0) return fail("fsync");
    if (::close(fd.release()) != 0) return fail("close");
    if (auto r = dir.adopt(temp, 0600); !r) {
        ::unlink(temp.c_str());
        return makeError(r.error());
    }
    if (::link(temp.c_str(), file.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        if (err == EEXIST) return load(dir);  // another `init` won the race: use its key
        return makeError("cannot create master key " + file.string() + ": " + errnoText(err));
    }
    ::unlink(temp.c_str());
    syncDirectory(dir.root());
    return MasterKey(std::move(key));
}

std::string MasterKey::seal(std::string_view plaintext, std::string_view associatedData) const {
    if (key_.size() != kSize) throw Error("master key: wrong key size");
    std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(out.data());
    if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) {
        throw Error("master key: the system's random source failed");
    }
    auto ctx = newCtx();
    int len = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                            nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1) {
        throw Error("master key: cannot initialize AES-256-GCM");
    }
    if (!associatedData.empty() &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(associatedData.data()),
                          static_cast<int>(associatedData.size())) != 1) {
        throw Error("master key: sealing failed");
    }
    auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonceSize;
    int written = 0;
    if (!plaintext.empty()) {
        if (EVP_EncryptUpdate(ctx.get(), ct, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) != 1) {
            throw Error("master key: sealing failed");
        }
        written = len;
    }
    if (EVP_EncryptFinal_ex(ctx.get(), ct + written, &len) != 1) {
        throw Error("master key: sealing failed");
    }
    written += len;
    if (static_cast<std::size_t>(written) != plaintext.size()) {
        throw Error("master key: sealing produced an unexpected length");
    }
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                            ct + written) != 1) {
        throw Error("master key: sealing failed (tag)");
    }
    return out;
}

Result<SecretBytes> MasterKey::open(std::string_view sealed,
                                    std::string_view associatedData) const {
    if (key_.size() != kSize) throw Error("master key: wrong key size");
    if (sealed.size() < kNonceSize + kTagSize) {
        return makeError("sealed value is truncated (" + std::to_string(sealed.size()) + " bytes)");
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
    const std::size_t ctSize = sealed.size() - kNonceSize - kTagSize;
    const unsigned char* nonce = bytes;
    const unsigned char* ct = bytes + kNonceSize;
    const unsigned char* tag = bytes + kNonceSize + ctSize;

    auto ctx = newCtx();
    int len = 0;
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                            nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1) {
        throw Error("master key: cannot initialize AES-256-GCM");
    }
    if (!associatedData.empty() &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(associatedData.data()),
                          static_cast<int>(associatedData.size())) != 1) {
        return makeError("sealed value does not verify");
    }
    // One spare byte so that data() is never null, even for an empty plaintext.
    SecretBytes plain(ctSize + 1);
    int written = 0;
    if (ctSize > 0) {
        if (EVP_DecryptUpdate(ctx.get(), plain.data(), &len, ct, static_cast<int>(ctSize)) != 1) {
            return makeError("sealed value does not verify");
        }
        written = len;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                            const_cast<unsigned char*>(tag)) != 1) {
        throw Error("master key: cannot set the GCM tag");
    }
    if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + written, &len) != 1) {
        // `plain` is wiped by its destructor: no unauthenticated plaintext escapes.
        return makeError(
            "sealed value does not verify (wrong master key, altered data, or another owner's "
            "value)");
    }
    written += len;
    return SecretBytes(plain.data(), static_cast<std::size_t>(written));
}

}  // namespace portcullis::db
