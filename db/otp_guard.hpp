#pragma once
// OtpGuard: the one second-factor check shared by the gateway and the PAM
// module. In a single write transaction it checks the per-source throttle, the
// account's state and lock-out, then the code (TOTP in the window, never a step
// already used; or an unused recovery code), and updates failure counters,
// lock-out, used step and used recovery code. Nothing is cached in the process:
// several gateways and PAM stacks share the state through the store.
//
// Who may lock an account (issue 12, finding 3): only failures after a proven
// first factor (the gateway, once the account's key was verified) count
// towards the account's lock-out. Failures without one (the PAM module: anyone
// at a prompt can type a name) back off their source instead (SourceThrottles),
// so that a stranger can slow down the terminal or address they type from but
// never lock a person out.
#include <optional>
#include <string>
#include <string_view>

#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/source_throttles.hpp"
#include "db/totp.hpp"

namespace portcullis::db {

struct GuardConfig {
    TotpParams totp;
    int maxFailures = 5;  // consecutive, then locked
    Seconds lockout{15 * 60};
    int maxSourceFailures = 20;  // per source within sourceWindow, any kind of failure
    Seconds sourceWindow{15 * 60};
    // Failures without a proven first factor: the source's backoff (SourceRules).
    int freeUnprovenFailures = 3;
    Seconds unprovenBackoff{30};
    Seconds unprovenBackoffMax{15 * 60};
    Seconds unprovenMemory{60 * 60};

    SourceRules sourceRules() const {
        return {maxSourceFailures, sourceWindow,       freeUnprovenFailures,
                unprovenBackoff,   unprovenBackoffMax, unprovenMemory};
    }
};

// Where an attempt comes from: the key its failures count against
// (SourceThrottles: an address or IPv6 /64 at the gateway, "pam:SERVICE:..."
// at the PAM module) and the exact address the audit records (may be empty).
struct OtpSource {
    std::string_view key;
    std::string_view address;
    OtpSource(std::string_view k, std::string_view a) : key(k), address(a) {}
    // Both the same: an address that is its own key.
    OtpSource(std::string_view both) : key(both), address(both) {}
    OtpSource(const char* both) : OtpSource(std::string_view(both)) {}
    OtpSource(const std::string& both) : OtpSource(std::string_view(both)) {}
};

// Did the caller verify a first factor of this account before asking for the code?
enum class FirstFactor {
    proven,    // the gateway: the account's registered key signed the request
    unproven,  // the PAM module: the stack may or may not have checked a password
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
    // throttled: when the source may try again.
    std::optional<TimePoint> retryAt{};
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

    // Spaces and dashes in the code are ignored ("123 456", "123-456" and
    // "ABCD-EFGH-JKLM" are the codes without them), for the gateway and the
    // PAM module alike.
    // The caller audits the attempt itself (auth.totp / pam.auth); the guard
    // audits `account.locked` when this failure locks the account and
    // `source.throttled` when it starts a source's backoff. Throws db::Error if
    // the store fails: callers deny.
    OtpVerdict verify(std::string_view account, std::string_view code, const OtpSource& source,
                      FirstFactor firstFactor, TimePoint now);

  private:
    Database& db_;
    const MasterKey& key_;
    AuditLog& audit_;
    GuardConfig config_;
};

}  // namespace portcullis::db
