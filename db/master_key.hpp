#pragma once
// MasterKey: the 32 bytes in master.key that seal TOTP secrets at rest with
// AES-256-GCM (OpenSSL EVP). Sealed form: 12-byte random nonce | ciphertext |
// 16-byte tag. The associated data binds a sealed value to its owner (for
// TOTP secrets: "totp:" + account id), so a sealed blob cannot be moved to
// another account.
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/secret_bytes.hpp"

namespace portcullis::db {

class StateDir;

class MasterKey {
  public:
    static constexpr std::size_t kSize = 32;

    // Reads master.key: refuses a missing, unreadable, wrong-sized or
    // group/world-accessible file with a message that says how to fix it.
    static Result<MasterKey> load(const StateDir& dir);
    // Creates master.key (0600, the state directory's owner) with fresh random
    // bytes if it does not exist; loads it otherwise. Used by `portcullis init`.
    static Result<MasterKey> createOrLoad(const StateDir& dir);
    // For tests.
    static MasterKey fromBytes(SecretBytes key) { return MasterKey(std::move(key)); }

    std::string seal(std::string_view plaintext, std::string_view associatedData) const;
    // Fails (no plaintext) when the tag does not verify: wrong key, edited
    // blob, or another owner's blob.
    Result<SecretBytes> open(std::string_view sealed, std::string_view associatedData) const;

  private:
    explicit MasterKey(SecretBytes key) : key_(std::move(key)) {}
    SecretBytes key_;
};

}  // namespace portcullis::db
