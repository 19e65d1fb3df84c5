// ClientConnection's authentication: publickey, then keyboard-interactive
// (SPEC §3), a source lock before the first answer, the same late answer for
// every failure.
#include <chrono>
#include <memory>

#include "common/secret_bytes.hpp"
#include "common/ssh_public_key.hpp"
#include "gateway/auth_messages.hpp"
#include "gateway/client_connection.hpp"
#include "gateway/client_connection_db.hpp"
#include "gateway/connection_text.hpp"
#include "gateway/ssh_message_access.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {
namespace {

constexpr const char* kPrompt = "Verification code: ";

const char* methodName(int subtype) {
    switch (subtype) {
        case SSH_AUTH_METHOD_NONE:
            return "none";
        case SSH_AUTH_METHOD_PUBLICKEY:
            return "publickey";
        case SSH_AUTH_METHOD_INTERACTIVE:
            return "keyboard-interactive";
        case SSH_AUTH_METHOD_PASSWORD:
            return "password";
        case SSH_AUTH_METHOD_HOSTBASED:
            return "hostbased";
        case SSH_AUTH_METHOD_GSSAPI_MIC:
            return "gssapi";
        default:
            return "other";
    }
}

}  // namespace

// SSH_MSG_USERAUTH_BANNER: OpenSSH prints it on stderr (unless -q). Only for
// what is not about the account (the store is down), which tells nobody
// anything about who exists.
void ClientConnection::tellClientDuringAuth(const std::string& line) {
    ssh_string text = ssh_string_from_char((line + "\n").c_str());
    if (text == nullptr) return;
    ssh_send_issue_banner(session_ssh_.get(), text);
    ssh_string_free(text);
}

void ClientConnection::handleAuth(MessagePtr msg) {
    // Answers to a keyboard-interactive prompt carry no user name.
    const bool answers = ssh_message_subtype(msg.get()) == SSH_AUTH_METHOD_INTERACTIVE &&
                         ssh_message_auth_kbdint_is_response(msg.get());
    const char* user = ssh_message_auth_user(msg.get());
    const std::string name = user ? user : "";
    if (answers) {
        // checked below: only after the prompt this connection sent
    } else if (!userName_) {
        userName_ = name;
        auto parsed = parseUserSpec(name);
        if (parsed)
            spec_ = *parsed;
        else
            log_.info("auth.bad_user_name", {{"conn", id_}, {"user", printable(name)}});
    } else if (*userName_ != name) {
        // OpenSSH refuses a change of user name between attempts as well.
        ssh_message_reply_default(msg.get());
        disconnect("Change of user name is not allowed");
        return;
    }
    if (!sourceChecked_) return checkSourceLock(std::move(msg));
    switch (ssh_message_subtype(msg.get())) {
        case SSH_AUTH_METHOD_PUBLICKEY:
            return handlePublicKey(std::move(msg));
        case SSH_AUTH_METHOD_INTERACTIVE:
            return handleKeyboardInteractive(std::move(msg));
        case SSH_AUTH_METHOD_NONE:
            // The client asking which methods exist: not an attempt.
            ssh_message_reply_default(msg.get());
            return;
        default: {
            // password, hostbased, gssapi: never succeed; they count as attempts.
            const int method = ssh_message_subtype(msg.get());
            const char* name = method == SSH_AUTH_METHOD_PASSWORD     ? "password"
                               : method == SSH_AUTH_METHOD_HOSTBASED  ? "hostbased"
                               : method == SSH_AUTH_METHOD_GSSAPI_MIC ? "gssapi"
                                                                      : "other";
            return refuseMethod(std::move(msg), std::string("auth.") + name, name,
                                "method_not_allowed");
        }
    }
}

// Once per connection, on its first authentication request (any method): a
// source lock refuses it before anything is looked up about the account.
void ClientConnection::checkSourceLock(MessagePtr msg) {
    const auto asked = std::chrono::steady_clock::now();
    const std::string account = auditName();
    const std::string method = methodName(ssh_message_subtype(msg.get()));
    heldMessage_ = std::move(msg);
    busy_ = true;
    runDb<std::optional<db::Lock>>(
        [account, method, peer = peer_](DbContext& ctx) {
            return sourceLock(ctx, account, method, peer);
        },
        [this, asked](std::optional<std::optional<db::Lock>> lock) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (!lock) {
                tellClientDuringAuth(kStoreUnavailable);
                return authFailed(std::move(m), asked, true);
            }
            if (*lock) return refuseLocked(std::move(m), **lock);
            sourceChecked_ = true;
            handleAuth(std::move(m));
        },
        StoreFailureAudit{"auth." + method, {{"account", account}, {"method", method}}});
}

void ClientConnection::refuseLocked(MessagePtr msg, const db::Lock& lock) {
    const std::string text = lockedText(lock, auditName(), peer_.address);
    log_.info(
        "auth.locked",
        {{"conn", id_}, {"user", auditName()}, {"lock_id", lock.id}, {"lock", lock.subject()}});
    tellClientDuringAuth("portcullis: " + text);
    if (msg) ssh_message_reply_default(msg.get());
    disconnect(text);
}

// A method that cannot succeed now: audited as a failed attempt, counted, answered late.
void ClientConnection::refuseMethod(MessagePtr msg, const std::string& type,
                                    const std::string& method, const std::string& reason) {
    const auto asked = std::chrono::steady_clock::now();
    log_.info("auth.method_refused",
              {{"conn", id_}, {"user", auditName()}, {"method", method}, {"reason", reason}});
    fireDb([account = auditName(), peer = peer_, type, method, reason](DbContext& ctx) {
        auditEvent(
            ctx, type, account, peer,
            {{"account", account}, {"method", method}, {"result", "failure"}, {"reason", reason}});
    });
    authFailed(std::move(msg), asked, true);
}

// Publickey. The probe (no signature) is answered pk_ok for every well-formed
// key, registered or not, and nothing is looked up: whether an account exists
// or holds a key is learned by nobody. The decision is taken only on a
// signature libssh verified, against the keys registered to the account.
void ClientConnection::handlePublicKey(MessagePtr msg) {
    const auto asked = std::chrono::steady_clock::now();
    if (publicKeyDone_) {
        // First factor already passed: the client must continue with the code.
        ssh_message_reply_default(msg.get());
        return;
    }
    const auto state = messagePublicKeyState(msg.get());
    if (state == SSH_PUBLICKEY_STATE_NONE) {
        ssh_message_auth_reply_pk_ok_simple(msg.get());
        return;
    }
    ssh_key key = messagePublicKey(msg.get());
    const std::string blob = publicKeyBlob(key);
    if (state != SSH_PUBLICKEY_STATE_VALID || blob.empty()) {
        log_.info("auth.publickey",
                  {{"conn", id_}, {"user", auditName()}, {"result", "bad_signature"}});
        fireDb([account = auditName(), peer = peer_](DbContext& ctx) {
            auditEvent(ctx, "auth.publickey", account, peer,
                       {{"account", account},
                        {"method", "publickey"},
                        {"result", "failure"},
                        {"reason", "bad_signature"}});
        });
        return authFailed(std::move(msg), asked, true);
    }
    const auto parsed = SshPublicKey::fromBlob(blob);
    const std::string type =
        parsed ? parsed->type : std::string(ssh_key_type_to_char(ssh_key_type(key)));
    const std::string fingerprint = parsed ? parsed->fingerprint() : std::string();
    const std::string account = auditName();
    heldMessage_ = std::move(msg);
    busy_ = true;
    // The account's id is kept with the key, so that a later re-check tells
    // this account from a new one of the same name.
    struct KeyCheck {
        std::optional<std::int64_t> accountId;
        std::optional<db::Lock> lock;  // the key is proven, but a lock refuses the account
    };
    runDb<KeyCheck>(
        [account, blob, type, fingerprint, peer = peer_](DbContext& ctx) {
            KeyCheck check;
            if (checkPublicKey(ctx, account, blob, type, fingerprint, peer)) {
                const auto found = db::Accounts(ctx.db).find(account);
                check.accountId = found ? found->id : 0;
                if (found) check.lock = accountLock(ctx, account, "publickey", peer);
            }
            return check;
        },
        [this, asked, blob, fingerprint](std::optional<KeyCheck> check) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (!check) tellClientDuringAuth(kStoreUnavailable);
            // Only once the key is proven does the user learn of the lock.
            if (check && check->lock && spec_) return refuseLocked(std::move(m), *check->lock);
            if (check && check->accountId && *check->accountId && spec_) {
                publicKeyDone_ = true;
                keyBlob_ = blob;
                keyFingerprint_ = fingerprint;
                accountId_ = *check->accountId;
                log_.info("auth.publickey", {{"conn", id_},
                                             {"account", auditName()},
                                             {"result", "success"},
                                             {"fingerprint", fingerprint}});
                // Partial success lists the methods that are set at this moment.
                ssh_set_auth_methods(session_ssh_.get(), SSH_AUTH_METHOD_INTERACTIVE);
                ssh_message_auth_reply_success(m.get(), 1);
            } else {
                log_.info("auth.publickey",
                          {{"conn", id_}, {"user", auditName()}, {"result", "failure"}});
                authFailed(std::move(m), asked, true);
            }
        },
        StoreFailureAudit{"auth.publickey",
                          {{"account", account},
                           {"method", "publickey"},
                           {"key_type", type},
                           {"fingerprint", fingerprint}}});
}

void ClientConnection::handleKeyboardInteractive(MessagePtr msg) {
    if (!publicKeyDone_) {
        // The order is enforced here: the key first, then the code.
        return refuseMethod(std::move(msg), "auth.totp", "keyboard-interactive",
                            "publickey_required");
    }
    const auto asked = std::chrono::steady_clock::now();
    ssh_session s = session_ssh_.get();
    if (!ssh_message_auth_kbdint_is_response(msg.get())) {
        const char* prompts[] = {kPrompt};
        char echo[] = {0};
        ssh_message_auth_interactive_request(msg.get(), "", "", 1, prompts, echo);
        return;
    }
    auto code = std::make_shared<SecretBytes>();
    if (ssh_userauth_kbdint_getnanswers(s) == 1) {
        const char* answer = ssh_userauth_kbdint_getanswer(s, 0);
        if (answer) *code = SecretBytes(std::string_view(answer));
    }
    const std::string account = auditName();
    heldMessage_ = std::move(msg);
    busy_ = true;
    struct CodeCheck {
        db::OtpVerdict verdict;
        std::optional<TimePoint> lockedUntil;  // to tell the user until when
        std::optional<db::Lock> lock;          // locked since the key was proven
    };
    runDb<CodeCheck>(
        [account, code, peer = peer_](DbContext& ctx) {
            CodeCheck check{checkCode(ctx, account, *code, peer), std::nullopt, std::nullopt};
            if (check.verdict.result == db::OtpResult::locked) {
                if (auto found = db::Accounts(ctx.db).find(account))
                    check.lockedUntil = found->lockedUntil;
            }
            if (check.verdict.accepted())
                check.lock = accountLock(ctx, account, "keyboard-interactive", peer);
            return check;
        },
        [this, asked](std::optional<CodeCheck> check) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (check && check->lock) return refuseLocked(std::move(m), *check->lock);
            const bool accepted = check && check->verdict.accepted();
            log_.info("auth.totp",
                      {{"conn", id_},
                       {"account", auditName()},
                       {"result", accepted ? "success" : "failure"},
                       {"reason", check ? check->verdict.reason() : std::string("store_error")}});
            if (accepted) return authenticated(std::move(m));
            // The key is proven: say why, on the line before the next prompt.
            tellClientDuringAuth(check
                                     ? codeRefusal(check->verdict, auditName(), check->lockedUntil)
                                     : kStoreUnavailable);
            authFailed(std::move(m), asked, true);
        },
        StoreFailureAudit{"auth.totp", {{"account", account}, {"method", "keyboard-interactive"}}});
}

// Every failure is answered the same way, no sooner than authFailureDelay
// after the request, whatever the reason (unknown account, wrong key, wrong or
// replayed code, locked, disabled, not enrolled).
void ClientConnection::authFailed(MessagePtr msg, std::chrono::steady_clock::time_point asked,
                                  bool counts) {
    heldMessage_ = std::move(msg);
    busy_ = true;
    const auto due = asked + config_.authFailureDelay;
    delayTimer_.expires_at(due);
    delayTimer_.async_wait([self = shared_from_this(), counts](const boost::system::error_code&) {
        if (self->phase_ == Phase::closed) return;
        self->busy_ = false;
        MessagePtr m = std::move(self->heldMessage_);
        if (m) ssh_message_reply_default(m.get());
        if (counts && ++self->authFailures_ >= self->config_.maxAuthTries) {
            self->log_.info("auth.too_many_failures",
                            {{"conn", self->id_}, {"user", self->auditName()}});
            self->disconnect("Too many authentication failures");
        }
        self->step();
    });
}

void ClientConnection::authenticated(MessagePtr msg) {
    ssh_message_auth_reply_success(msg.get(), 0);
    phase_ = Phase::open;
    authenticated_ = true;
    graceTimer_.cancel();
    ticket_.release();
    {
        const std::lock_guard lock(accountMutex_);
        authenticatedAccount_ = auditName();
    }
    log_.info("auth.success", {{"conn", id_}, {"account", auditName()}, {"source", peer_.address}});
    scheduleRecheck();
}

}  // namespace portcullis::gateway
