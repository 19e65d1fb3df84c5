#pragma once
// Accounts (people), their SSH public keys and their TOTP enrollment.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/secret_bytes.hpp"
#include "common/ssh_public_key.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/totp.hpp"

namespace portcullis::db {

struct Account {
    std::int64_t id = 0;
    std::string name;
    std::string fullName;
    std::string email;
    bool enabled = true;
    TimePoint createdAt{};
    int failures = 0;                      // consecutive failed codes
    std::optional<TimePoint> lockedUntil;  // set while locked out
    bool totpEnrolled = false;
    int recoveryCodesLeft = 0;
    std::vector<std::string> groups;

    bool lockedAt(TimePoint now) const { return lockedUntil && *lockedUntil > now; }
};

struct StoredKey {
    std::int64_t id = 0;
    std::string fingerprint;
    std::string type;
    std::string comment;
    TimePoint createdAt{};
    SshPublicKey key;
    // Other accounts holding the same key (a store from before keys were
    // unique): the gateway refuses such a key for all of them.
    std::vector<std::string> alsoRegisteredTo{};
};

struct Enrollment {
    SecretBytes secret;                      // shown once, then wiped
    std::string uri;                         // otpauth://...
    std::vector<std::string> recoveryCodes;  // shown once: "xxxx-xxxx-xxxx"
};

inline constexpr int kRecoveryCodeCount = 10;

// All methods run their own transaction; failures that come from the operator
// (unknown name, duplicate) are returned as errors with what to do next.
class Accounts {
  public:
    explicit Accounts(Database& db) : db_(db) {}

    Result<Account> add(const std::string& name, const std::string& fullName,
                        const std::string& email, TimePoint now);
    Result<Account> find(const std::string& name);
    std::vector<Account> list();
    Result<void> setEnabled(const std::string& name, bool enabled);
    Result<void> remove(const std::string& name);
    Result<void> unlock(const std::string& name);  // clears failures and lock-out

    // A key identifies one person: a key registered to another account is
    // refused, naming that account (issue 12, finding 9).
    Result<StoredKey> addKey(const std::string& name, const SshPublicKey& key, TimePoint now);
    Result<std::vector<StoredKey>> listKeys(const std::string& name);
    Result<void> removeKey(const std::string& name, const std::string& fingerprint);
    // Is this key blob registered to this account, and to no other? (gateway
    // publickey step; a key that a store from before holds for two accounts
    // proves neither, so it is refused for both)
    bool hasKey(const std::string& name, const std::string& blob);
    // The accounts a key blob is registered to, by name.
    std::vector<std::string> keyOwners(const std::string& blob);

    // Creates a new secret and recovery codes, replacing any earlier ones.
    Result<Enrollment> enrollTotp(const std::string& name, const MasterKey& key,
                                  const std::string& issuer, TimePoint now,
                                  const TotpParams& params = {});
    Result<void> resetTotp(const std::string& name);  // removes secret and recovery codes
    // How many TOTP secrets the store holds sealed with master.key.
    std::int64_t sealedSecretCount();

  private:
    Database& db_;
};

// Recovery code hashing, shared by enrollment and verification.
std::string hashRecoveryCode(std::string_view code, std::string_view salt);
// Normalizes a typed recovery code: lower case, without '-' and spaces.
std::string normalizeRecoveryCode(std::string_view code);

}  // namespace portcullis::db
