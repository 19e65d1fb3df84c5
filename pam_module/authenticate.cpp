#include "pam_module/authenticate.hpp"

#include <security/pam_appl.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/groups.hpp"
#include "db/master_key.hpp"
#include "db/otp_guard.hpp"
#include "db/state_dir.hpp"
#include "pam_module/account_name.hpp"
#include "pam_module/conversation.hpp"

namespace portcullis::pam {
namespace {

constexpr std::string_view kAccountPrompt = "Portcullis account: ";
constexpr std::string_view kCodePrompt = "Verification code: ";

// What the PAM application told us about this attempt.
struct Request {
    std::string service;
    std::string pamUser;
    std::string rhost;
    std::string tty;
    // The source key failures count against (db::SourceThrottles): per service
    // and remote host, else terminal, never one shared "local", so that a
    // stranger on tty2 cannot slow down the root console on tty1.
    std::string source() const {
        std::string key = "pam:" + (service.empty() ? std::string("-") : service) + ":";
        if (!rhost.empty()) return key + "rhost=" + rhost;
        if (!tty.empty()) {
            std::string_view name = tty;
            if (name.starts_with("/dev/")) name.remove_prefix(5);
            return key + "tty=" + std::string(name);
        }
        return key + "user=" + pamUser;
    }
};

std::string stringItem(pam_handle_t* pamh, int type) {
    const void* item = nullptr;
    if (pam_get_item(pamh, type, &item) != PAM_SUCCESS || item == nullptr) return {};
    return printable(static_cast<const char*>(item), 256);
}

// One attempt's outcome, as audited and logged.
struct Outcome {
    int status = PAM_AUTH_ERR;
    std::string account;  // as recorded (empty when unknown or redacted)
    std::string reason;   // OtpVerdict::reason(), or why it was not asked ("not_in_group", ...)
    std::string method;   // "totp" / "recovery" on success
    std::optional<TimePoint> throttledUntil{};  // when the source may try again
    bool success() const { return status == PAM_SUCCESS; }
};

std::string summary(const Request& request, const Outcome& outcome) {
    return "pam.auth result=" + std::string(outcome.success() ? "success" : "failure") +
           " account=" + (outcome.account.empty() ? "-" : outcome.account) +
           " pam_user=" + (request.pamUser.empty() ? "-" : request.pamUser) +
           " service=" + (request.service.empty() ? "-" : request.service) +
           " rhost=" + (request.rhost.empty() ? "-" : request.rhost) +
           " tty=" + (request.tty.empty() ? "-" : request.tty) + " reason=" + outcome.reason +
           " source_key=" + request.source();
}

db::AuditEvent auditEvent(const Request& request, const Outcome& outcome) {
    db::AuditEvent event;
    event.type = "pam.auth";
    event.actor = outcome.account.empty() ? request.pamUser : outcome.account;
    event.source = request.rhost;
    event.details = {
        {"service", request.service}, {"pam_user", request.pamUser},
        {"account", outcome.account}, {"rhost", request.rhost},
        {"tty", request.tty},         {"result", outcome.success() ? "success" : "failure"},
        {"reason", outcome.reason},   {"source_key", request.source()},
    };
    if (!outcome.method.empty()) event.details["method"] = outcome.method;
    if (outcome.throttledUntil) {
        event.details["throttled_until"] = formatIso8601(*outcome.throttledUntil);
    }
    return event;
}

TimePoint now() {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

}  // namespace

int authenticate(pam_handle_t* pamh, const ModuleOptions& options, const Log& log) {
    Request request;
    request.service = stringItem(pamh, PAM_SERVICE);
    request.rhost = stringItem(pamh, PAM_RHOST);
    request.tty = stringItem(pamh, PAM_TTY);

    const char* user = nullptr;
    if (const int rc = pam_get_user(pamh, &user, nullptr); rc != PAM_SUCCESS || user == nullptr) {
        log.write(LOG_ERR, std::string("cannot determine the PAM user: ") + pam_strerror(pamh, rc));
        return PAM_AUTH_ERR;
    }
    request.pamUser = printable(user, 256);

    // The store first: without it there is nothing to check a code against, and
    // nothing is asked of the user (fail closed).
    const db::StateDir stateDir(options.stateDir);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(stateDir.database(), ec)) {
        log.write(LOG_ERR, "no Portcullis store at " + stateDir.database().string() + ": denying " +
                               summary(request, {PAM_AUTH_ERR, "", "store_missing", ""}));
        return PAM_AUTHINFO_UNAVAIL;
    }
    auto database = db::Database::open(stateDir);
    if (!database) {
        log.write(LOG_ERR, "cannot open the Portcullis store: " + database.error() + ": denying " +
                               summary(request, {PAM_AUTH_ERR, "", "store_unavailable", ""}));
        return PAM_AUTH_ERR;
    }
    auto masterKey = db::MasterKey::load(stateDir);
    if (!masterKey) {
        log.write(LOG_ERR, "cannot load the master key: " + masterKey.error() + ": denying " +
                               summary(request, {PAM_AUTH_ERR, "", "store_unavailable", ""}));
        return PAM_AUTH_ERR;
    }
    log.debug("store " + stateDir.root().string() + " open");

    Conversation conversation(pamh);
    Outcome outcome;
    bool accountUsable = true;

    // Which Portcullis account answers for this login.
    std::string account;
    bool conversationFailed = false;
    if (options.account == AccountMode::ask) {
        auto answer = conversation.ask(kAccountPrompt, Echo::on);
        if (!answer) {
            conversationFailed = true;
            accountUsable = false;
            outcome.status = PAM_CONV_ERR;
            outcome.reason = "no_answer";
            log.debug("account prompt: " + answer.error());
        } else if (const std::string_view typed = trimmed(answer->text);
                   answer->overlong || !plausibleAccountName(typed)) {
            accountUsable = false;
            outcome.reason = "invalid_account";
        } else {
            account = std::string(typed);
        }
    } else {
        account = request.pamUser;
        if (!plausibleAccountName(account)) {
            accountUsable = false;
            outcome.reason = "invalid_account";
        }
    }
    if (accountUsable && !looksLikeCode(account)) outcome.account = account;

    if (accountUsable && options.group) {
        // Which of the three it is goes to the log only: the user sees the
        // same prompts and the same failure in every case.
        db::Groups groups(*database);
        const auto all = groups.list();
        const bool groupExists = std::any_of(
            all.begin(), all.end(), [&](const db::Group& g) { return g.name == *options.group; });
        if (!groupExists) {
            accountUsable = false;
            outcome.reason = "unknown_group";
            log.write(LOG_ERR, "group=" + *options.group +
                                   " names no Portcullis group: nobody passes this stack "
                                   "(create it with `portcullis group add " +
                                   *options.group + "`, or fix the PAM line)");
        } else if (!db::Accounts(*database).find(account)) {
            accountUsable = false;
            outcome.reason = "unknown_account";
        } else if (!groups.isMember(*options.group, account)) {
            accountUsable = false;
            outcome.reason = "not_in_group";
        }
    }

    // The code is asked for in every case, so that the prompts do not tell
    // which accounts exist or belong to the group.
    Result<Answer> answer = makeError("not asked");
    if (!conversationFailed) {
        answer = conversation.ask(kCodePrompt, Echo::off);
        if (!answer) {
            outcome.status = PAM_CONV_ERR;
            outcome.reason = "no_answer";
            log.debug("code prompt: " + answer.error());
        }
    }
    if (answer && accountUsable) {
        db::AuditLog audit(*database, &stateDir);
        db::GuardConfig config;
        if (options.window) config.totp.window = *options.window;
        db::OtpGuard guard(*database, *masterKey, audit, config);
        // An overlong answer is checked as an empty one: a failure that counts.
        const std::string_view code = answer->overlong ? std::string_view() : trimmed(answer->text);
        try {
            // The module cannot know whether the stack proved a password first
            // (docs/pam.md puts pam_unix before it as requisite): its failures
            // slow their source down and never lock the account.
            const std::string sourceKey = request.source();
            const db::OtpVerdict verdict =
                guard.verify(account, code, db::OtpSource{sourceKey, request.rhost},
                             db::FirstFactor::unproven, now());
            outcome.reason = verdict.reason();
            outcome.throttledUntil = verdict.retryAt;
            if (verdict.accepted()) {
                outcome.status = PAM_SUCCESS;
                outcome.method =
                    verdict.result == db::OtpResult::acceptedRecovery ? "recovery" : "totp";
            }
        } catch (const std::exception& e) {
            // The store failed under the check (locked too long, I/O, a master.key
            // that does not open the secret): deny, and still try to audit that.
            outcome.status = PAM_AUTH_ERR;
            outcome.reason = "store_error";
            log.write(LOG_ERR, std::string("verification failed: ") + e.what());
        }
    }
    if (answer) answer->text.clear();

    // Audited before the verdict is returned; an attempt that cannot be audited
    // does not succeed.
    try {
        db::AuditLog audit(*database, &stateDir);
        audit.record(auditEvent(request, outcome));
    } catch (const std::exception& e) {
        log.write(LOG_ERR,
                  std::string("cannot write the audit event: ") + e.what() + ": denying " +
                      summary(request, {PAM_AUTH_ERR, outcome.account, "audit_failed", ""}));
        return PAM_AUTH_ERR;
    }
    log.write(outcome.success() ? LOG_NOTICE : LOG_WARNING, summary(request, outcome));
    return outcome.status;
}

}  // namespace portcullis::pam
