#include "db/otp_guard.hpp"

#include <openssl/crypto.h>

#include <exception>
#include <optional>
#include <string>

#include "db/accounts.hpp"
#include "db/error.hpp"
#include "db/source_throttles.hpp"
#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

bool isDigits(std::string_view code) {
    if (code.empty()) return false;
    for (char c : code) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// Recovery codes are 12 symbols once dashes and spaces are removed.
constexpr std::size_t kRecoveryCodeSymbols = 12;
// Codes longer than this are not looked at at all (nothing valid is longer).
constexpr std::size_t kMaxCodeLength = 64;

// The code without the spaces and dashes people type to group digits
// ("123 456", "123-456"): the gateway and the PAM module alike, so that a
// right code is never a failure for how it was typed. Wipes itself.
class TypedCode {
  public:
    explicit TypedCode(std::string_view typed) {
        if (typed.size() > kMaxCodeLength) {
            overlong_ = true;
            return;
        }
        text_.reserve(typed.size());
        for (const char c : typed) {
            if (c != ' ' && c != '-') text_.push_back(c);
        }
    }
    ~TypedCode() { OPENSSL_cleanse(text_.data(), text_.size()); }
    TypedCode(const TypedCode&) = delete;
    TypedCode& operator=(const TypedCode&) = delete;
    std::string_view view() const { return text_; }
    bool overlong() const { return overlong_; }

  private:
    std::string text_;
    bool overlong_ = false;
};

struct AccountState {
    std::int64_t id = 0;
    bool enabled = false;
    int failures = 0;
    std::optional<std::int64_t> lockedUntil;
    std::optional<std::string> sealed;  // null: not enrolled
    std::optional<std::int64_t> lastStep;
};

std::optional<AccountState> loadAccount(Database& db, std::string_view name) {
    auto st = db.prepare(
        "SELECT a.id, a.enabled, a.failures, a.locked_until, t.sealed, t.last_step "
        "FROM accounts a LEFT JOIN totp t ON t.account_id = a.id WHERE a.name = ?");
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    AccountState s;
    s.id = st.int64(0);
    s.enabled = st.int64(1) != 0;
    s.failures = static_cast<int>(st.int64(2));
    s.lockedUntil = st.optInt64(3);
    if (!st.isNull(4)) s.sealed = st.blob(4);
    s.lastStep = st.optInt64(5);
    return s;
}

OtpVerdict verifyOnce(Database& db, const MasterKey& key, AuditLog& audit,
                      const GuardConfig& config, std::string_view account,
                      std::string_view typedCode, const OtpSource& from, FirstFactor firstFactor,
                      TimePoint now) {
    const std::string_view source = from.key;
    const std::int64_t nowSecs = toUnix(now);
    const bool proven = firstFactor == FirstFactor::proven;
    // One write transaction for the whole check: BEGIN IMMEDIATE serializes
    // concurrent verifications (other gateways, PAM stacks), so a code can
    // pass only once and every counter update is atomic with its check.
    Transaction tx(db);
    SourceThrottles throttles(db, config.sourceRules());

    // (1) The source's throttle, before any account or secret is looked at.
    // A refused attempt is not counted: it cannot make the refusal last longer.
    if (const auto row = throttles.find(source)) {
        if (const auto until = row->refusedUntil(now, config.sourceRules())) {
            tx.commit();
            return {OtpResult::throttled, until};
        }
    }
    // The account tried, when it exists (never an unknown name: it may be a code).
    std::string tried;
    auto countSourceFailure = [&] {
        const auto backoffUntil = throttles.recordFailure(source, tried, proven, now);
        if (!backoffUntil) return;
        const auto row = throttles.find(source);
        AuditEvent event;
        event.type = "source.throttled";
        event.actor = tried.empty() ? std::string("-") : tried;
        event.source = std::string(from.address);
        event.details = {
            {"source_key", std::string(source)},
            {"account", tried},
            {"unproven_failures", row ? row->unproven : 0},
            {"throttled_until", formatIso8601(*backoffUntil)},
            {"backoff_seconds", (*backoffUntil - now).count()},
        };
        audit.record(tx, event);
    };
    auto refuse = [&](OtpResult result) {
        countSourceFailure();
        tx.commit();
        return OtpVerdict{result};
    };

    // (2) The account's state. Unknown accounts leave no row behind.
    auto state = loadAccount(db, account);
    if (!state) return refuse(OtpResult::unknownAccount);
    tried = std::string(account);
    if (!state->enabled) return refuse(OtpResult::disabled);
    if (state->lockedUntil) {
        if (*state->lockedUntil > nowSecs) return refuse(OtpResult::locked);
        // The lock-out has expired: the count of consecutive failures starts over.
        auto st = db.prepare("UPDATE accounts SET failures = 0, locked_until = NULL WHERE id = ?");
        st.bind(1, state->id).run();
        state->failures = 0;
        state->lockedUntil.reset();
    }
    if (!state->sealed) return refuse(OtpResult::notEnrolled);

    // (3) The code: a TOTP code when it has the TOTP shape, else a recovery code.
    OtpResult result = OtpResult::badCode;
    const TypedCode typed(typedCode);
    const std::string_view code = typed.view();
    const bool totpShaped = !typed.overlong() &&
                            code.size() == static_cast<std::size_t>(config.totp.digits) &&
                            isDigits(code);
    if (totpShaped) {
        std::optional<std::int64_t> step;
        {
            auto secret = key.open(*state->sealed, "totp:" + std::to_string(state->id));
            if (!secret) {
                // Not the caller's fault and not fixable by retrying: the store
                // or master.key is wrong. Callers deny.
                throw Error("the TOTP secret of account " + std::string(account) +
                            " cannot be unsealed (wrong master.key?): " + secret.error());
            }
            step = matchTotp(secret.value(), code, now, config.totp);
            secret.value().clear();
        }
        if (step) {
            if (state->lastStep && *step <= *state->lastStep) {
                result = OtpResult::replayed;
            } else {
                auto st = db.prepare("UPDATE totp SET last_step = ? WHERE account_id = ?");
                st.bind(1, *step).bind(2, state->id).run();
                result = OtpResult::acceptedTotp;
            }
        }
    } else if (!typed.overlong()) {
        std::string normalized = normalizeRecoveryCode(code);
        if (normalized.size() == kRecoveryCodeSymbols) {
            auto st = db.prepare(
                "SELECT id, salt, hash FROM recovery_codes "
                "WHERE account_id = ? AND used_at IS NULL ORDER BY id");
            st.bind(1, state->id);
            std::optional<std::int64_t> matched;
            // Every unused code is checked, whichever matched before.
            while (st.step()) {
                const std::string hash = hashRecoveryCode(normalized, st.blob(1));
                if (constantTimeEquals(hash, st.blob(2)) && !matched) matched = st.int64(0);
            }
            if (matched) {
                auto use = db.prepare(
                    "UPDATE recovery_codes SET used_at = ? WHERE id = ? AND used_at IS NULL");
                use.bind(1, nowSecs).bind(2, *matched).run();
                if (db.changes() == 1) result = OtpResult::acceptedRecovery;
            }
        }
        OPENSSL_cleanse(normalized.data(), normalized.size());
    }

    if (result == OtpResult::acceptedTotp || result == OtpResult::acceptedRecovery) {
        if (state->failures != 0) {
            auto st = db.prepare("UPDATE accounts SET failures = 0 WHERE id = ?");
            st.bind(1, state->id).run();
        }
        throttles.recordSuccess(source);
        tx.commit();
        return {result};
    }

    // (4) A failure. After a proven first factor it counts for the account,
    // which is locked when it reaches the limit (audited in this transaction);
    // without one it only counts for its source (its backoff).
    if (proven) {
        const int failures = state->failures + 1;
        const bool lockNow = failures >= config.maxFailures;
        {
            auto st = db.prepare("UPDATE accounts SET failures = ?, locked_until = ? WHERE id = ?");
            st.bind(1, failures);
            if (lockNow) {
                st.bind(2, nowSecs + config.lockout.count());
            } else {
                st.bindNull(2);
            }
            st.bind(3, state->id).run();
        }
        if (lockNow) {
            AuditEvent event;
            event.type = "account.locked";
            event.actor = std::string(account);
            event.source = std::string(from.address);
            event.details = {
                {"account", std::string(account)},
                {"failures", failures},
                {"locked_until", formatIso8601(now + config.lockout)},
                {"lockout_seconds", config.lockout.count()},
                {"reason", OtpVerdict{result}.reason()},
                {"source_key", std::string(source)},
            };
            audit.record(tx, event);
            result = OtpResult::locked;
        }
    }
    countSourceFailure();
    tx.commit();
    return {result};
}

}  // namespace

std::string OtpVerdict::reason() const {
    switch (result) {
        case OtpResult::acceptedTotp:
            return "accepted_totp";
        case OtpResult::acceptedRecovery:
            return "accepted_recovery";
        case OtpResult::badCode:
            return "bad_code";
        case OtpResult::replayed:
            return "replayed";
        case OtpResult::locked:
            return "locked";
        case OtpResult::throttled:
            return "throttled";
        case OtpResult::notEnrolled:
            return "not_enrolled";
        case OtpResult::disabled:
            return "disabled";
        case OtpResult::unknownAccount:
            return "unknown_account";
    }
    return "bad_code";
}

OtpVerdict OtpGuard::verify(std::string_view account, std::string_view code,
                            const OtpSource& source, FirstFactor firstFactor, TimePoint now) {
    // Callers deny on db::Error; anything else that goes wrong inside (a bad
    // configuration, an audit event refused) is reported the same way, and the
    // transaction rolls back.
    try {
        return verifyOnce(db_, key_, audit_, config_, account, code, source, firstFactor, now);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(std::string("second factor check failed: ") + e.what());
    }
}

}  // namespace portcullis::db
