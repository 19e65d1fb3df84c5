#pragma once
// OtpGuard: the one second-factor check shared by the gateway and the PAM
// module. In a single write transaction it checks the per-source throttle, the
// account's state and lock-out, then the code (TOTP in the window, never a step
// already used; or an unused recovery code), and updates failure counters,
// lock-out, used step and used recovery code. Nothing is cached in the process:
// several gateways and PAM stacks share the state through the store.
#include <string>
#include <string_view>

#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/totp.hpp"

namespace portcullis::db {

struct GuardConfig {
    TotpParams totp;
    int maxFailures = 5;  // consecutive, then locked
    Seconds lockout{15 * 60};
    int maxSourceFailures = 20;  // per source address within sourceWindow
    Seconds sourceWindow{15 * 60};
};

enum class OtpResult {
    acceptedTotp,
    acceptedRecovery,
    badCode,    // wrong, malformed or empty
    replayed,   // a valid code for a step already used
    locked,     // account locked out (now or by this failure)
    throttled,  // too many failures from this source
    notEnrolled,
    disabled,
    unknownAccount,
};

struct OtpVerdict {
    OtpResult result = OtpResult::badCode;
    bool accepted() const {
        return result == OtpResult::acceptedTotp || result == OtpResult::acceptedRecovery;
    }
    // Machine-readable reason for the audit event ("bad_code", "replayed", ...).
    std::string reason() const;
};

class OtpGuard {
  public:
    OtpGuard(Database& db, const MasterKey& key, AuditLog& audit, GuardConfig config = {})
        : db_(db), key_(key), audit_(audit), config_(config) {}

    // The caller audits the attempt itself (auth.totp / pam.auth); the guard
    // audits `account.locked` when this failure locks the account.
    // Throws db::Error if the store fails: callers deny.
    OtpVerdict verify(std::string_view account, std::string_view code, std::string_view source,
                      TimePoint now);

  private:
    Database& db_;
    const MasterKey& key_;
    AuditLog& audit_;
    GuardConfig config_;
};

}  // namespace portcullis::db
