// portcullis user ...: accounts, their SSH keys and their TOTP enrollment.
#include <openssl/crypto.h>

#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/grant_cleanup.hpp"
#include "admin_cli/live_recheck.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/public_key_input.hpp"
#include "admin_cli/store.hpp"
#include "admin_cli/terminal_qr.hpp"
#include "common/encoding.hpp"
#include "db/accounts.hpp"
#include "db/groups.hpp"
#include "db/source_throttles.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultIssuer = "Portcullis";

std::string accountArg(const Invocation& inv) {
    return requireName(inv.arg(0), "account name");
}

std::string accountStatus(const db::Account& a, TimePoint now) {
    if (!a.enabled) return "disabled";
    if (a.lockedAt(now)) return "locked until " + isoTime(*a.lockedUntil);
    return "enabled";
}

json keyJson(const db::StoredKey& k) {
    return {{"fingerprint", k.fingerprint},
            {"type", k.type},
            {"comment", k.comment},
            {"added_at", isoTime(k.createdAt)}};
}

json accountJson(const db::Account& a, const std::vector<std::string>& groups, TimePoint now) {
    return {{"name", a.name},
            {"full_name", a.fullName},
            {"email", a.email},
            {"enabled", a.enabled},
            {"locked", a.lockedAt(now)},
            {"locked_until", a.lockedAt(now) ? isoTimeOrNull(a.lockedUntil) : json(nullptr)},
            {"failures", a.failures},
            {"totp_enrolled", a.totpEnrolled},
            {"recovery_codes_left", a.recoveryCodesLeft},
            {"groups", groups},
            {"created_at", isoTime(a.createdAt)}};
}

// Asks portcullisd to re-check the account's live connections now (best
// effort) and says so; returns the --json value.
json recheckAccount(const Store& store, const Invocation& inv, const std::string& name) {
    const RecheckOutcome outcome = requestRecheck(store.dir(), name);
    if (!inv.json()) std::cout << outcome.note << '\n';
    return recheckJson(outcome);
}

// ---- user add / list / show -------------------------------------------------

void addOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("full-name", "the person's full name", cxxopts::value<std::string>(), "S")
        ("email", "the person's e-mail address", cxxopts::value<std::string>(), "S");
    // clang-format on
}

int userAdd(Invocation& inv) {
    const std::string& name = accountArg(inv);
    const std::string fullName = inv.optionOr("full-name");
    const std::string email = inv.optionOr("email");
    Store store(inv.globals(), Store::Access::change);
    const TimePoint now = systemNow();
    const db::Account account = require(db::Accounts(store.db()).add(name, fullName, email, now));
    // Grants naming an account removed before removal revoked them: a new
    // account of that name inherits nothing (issue 12, finding 6).
    const auto leftovers =
        revokeGrantsOfSubject(store, name, "left over from an earlier account " + name);
    store.recordChange("admin.user.add", {{"account", name},
                                          {"full_name", fullName},
                                          {"email", email},
                                          {"revoked_grants", leftovers}});
    if (inv.json()) {
        printJson(accountJson(account, {}, now));
    } else {
        std::cout << "added account " << name << "\nnext: portcullis user key add " << name
                  << " --file KEY.pub; then portcullis user totp enroll " << name << '\n';
    }
    return kExitOk;
}

int userList(Invocation& inv) {
    Store store(inv.globals());
    db::Groups groups(store.db());
    const TimePoint now = systemNow();
    const auto accounts = db::Accounts(store.db()).list();
    if (inv.json()) {
        json out = json::array();
        for (const auto& a : accounts) out.push_back(accountJson(a, groups.groupsOf(a.name), now));
        printJson(out);
        return kExitOk;
    }
    Table table({"NAME", "FULL NAME", "EMAIL", "STATUS", "TOTP", "GROUPS", "CREATED"});
    for (const auto& a : accounts) {
        table.addRow({a.name, orDash(a.fullName), orDash(a.email), accountStatus(a, now),
                      yesNo(a.totpEnrolled), orDash(joinList(groups.groupsOf(a.name))),
                      isoTime(a.createdAt)});
    }
    table.print(std::cout, "no accounts yet (add one with `portcullis user add NAME`)");
    return kExitOk;
}

int userShow(Invocation& inv) {
    const std::string& name = accountArg(inv);
    Store store(inv.globals());
    db::Accounts accounts(store.db());
    const TimePoint now = systemNow();
    const db::Account a = require(accounts.find(name));
    const auto keys = require(accounts.listKeys(name));
    const auto groups = db::Groups(store.db()).groupsOf(name);
    if (inv.json()) {
        json out = accountJson(a, groups, now);
        out["keys"] = json::array();
        for (const auto& k : keys) out["keys"].push_back(keyJson(k));
        printJson(out);
        return kExitOk;
    }
    printFields(std::cout, {{"Account", a.name},
                            {"Full name", orDash(a.fullName)},
                            {"Email", orDash(a.email)},
                            {"Enabled", yesNo(a.enabled)},
                            {"Locked", a.lockedAt(now) ? "until " + isoTime(*a.lockedUntil) : "no"},
                            {"Failed codes", std::to_string(a.failures)},
                            {"TOTP enrolled", yesNo(a.totpEnrolled)},
                            {"Recovery codes left", std::to_string(a.recoveryCodesLeft)},
                            {"Groups", orDash(joinList(groups, ", "))},
                            {"Created", isoTime(a.createdAt)},
                            {"Keys", std::to_string(keys.size())}});
    for (const auto& k : keys) {
        std::cout << "  " << k.fingerprint << "  " << k.type
                  << (k.comment.empty() ? "" : "  " + k.comment) << '\n';
    }
    return kExitOk;
}

// ---- state changes: disable / enable / remove / unlock ------------------------

// Does a change end access, so that live connections are re-checked at once?
enum class EndsAccess { no, yes };

// Runs a change on one account, audits it and reports it.
template <class Change>
int changeAccount(Invocation& inv, const std::string& eventVerb, const std::string& pastTense,
                  EndsAccess endsAccess, Change change) {
    const std::string& name = accountArg(inv);
    Store store(inv.globals(), Store::Access::change);
    db::Accounts accounts(store.db());
    require(change(accounts, name));
    store.recordChange("admin.user." + eventVerb, {{"account", name}});
    json out = {{"account", name}, {"action", eventVerb}};
    if (!inv.json()) std::cout << pastTense << " account " << name << '\n';
    if (endsAccess == EndsAccess::yes) {
        out["live_connections_rechecked"] = recheckAccount(store, inv, name);
    }
    if (inv.json()) printJson(out);
    return kExitOk;
}

int userDisable(Invocation& inv) {
    return changeAccount(
        inv, "disable", "disabled", EndsAccess::yes,
        [](db::Accounts& a, const std::string& n) { return a.setEnabled(n, false); });
}
int userEnable(Invocation& inv) {
    return changeAccount(
        inv, "enable", "enabled", EndsAccess::no,
        [](db::Accounts& a, const std::string& n) { return a.setEnabled(n, true); });
}

// The account goes with its keys, TOTP secret and group memberships, and the
// grants that name it are revoked in the same transaction (issue 12, finding 6).
int userRemove(Invocation& inv) {
    const std::string& name = accountArg(inv);
    Store store(inv.globals(), Store::Access::change);
    require(db::Accounts(store.db()).remove(name));
    const json revoked = revokeGrantsOfSubject(store, name, "account " + name + " removed");
    store.recordChange("admin.user.remove", {{"account", name}, {"revoked_grants", revoked}});
    json out = {{"account", name}, {"action", "remove"}, {"revoked_grants", revoked}};
    if (!inv.json()) {
        std::cout << "removed account " << name;
        if (!revoked.empty()) std::cout << " and revoked its grant(s) " << grantIdList(revoked);
        std::cout << '\n';
    }
    out["live_connections_rechecked"] = recheckAccount(store, inv, name);
    if (inv.json()) printJson(out);
    return kExitOk;
}

// Clears the account's lock-out and the source throttles its name is
// involved in (the sources it was tried from), in one audited change.
int userUnlock(Invocation& inv) {
    const std::string& name = accountArg(inv);
    Store store(inv.globals(), Store::Access::change);
    require(db::Accounts(store.db()).unlock(name));
    const auto sources = db::SourceThrottles(store.db()).clearForAccount(name);
    store.recordChange("admin.user.unlock", {{"account", name}, {"throttles_cleared", sources}});
    if (inv.json()) {
        printJson({{"account", name}, {"action", "unlock"}, {"throttles_cleared", sources}});
    } else {
        std::cout << "unlocked account " << name;
        if (!sources.empty())
            std::cout << " and cleared the throttle of " << joinList(sources, ", ");
        std::cout << '\n';
    }
    return kExitOk;
}

// ---- keys -------------------------------------------------------------------

void keyAddOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()("file", "read the public key line from PATH (`-` as argument: stdin)",
                    cxxopts::value<std::string>(), "PATH");
    // clang-format on
}

int keyAdd(Invocation& inv) {
    const std::string& name = accountArg(inv);
    const auto file = inv.option("file");
    const auto dash = inv.optionalArg(1);
    if (dash && *dash != "-") throw UsageError("unexpected argument `" + *dash + "`");
    if (file.has_value() == dash.has_value()) {
        throw UsageError("give the key with exactly one of --file PATH or `-` (stdin)");
    }
    const SshPublicKey key = readOnePublicKey(file ? *file : "-");
    Store store(inv.globals(), Store::Access::change);
    const db::StoredKey stored = require(db::Accounts(store.db()).addKey(name, key, systemNow()));
    store.recordChange("admin.user.key.add", {{"account", name},
                                              {"fingerprint", stored.fingerprint},
                                              {"key_type", stored.type},
                                              {"comment", stored.comment}});
    if (inv.json()) {
        json out = keyJson(stored);
        out["account"] = name;
        printJson(out);
    } else {
        std::cout << stored.fingerprint << '\n'
                  << "added " << stored.type << " key to account " << name << '\n';
    }
    return kExitOk;
}

// A key a store from before holds for several accounts (issue 12, finding 9):
// the gateway refuses it for all of them until it is removed from all but one.
void warnSharedKeys(const std::string& name, const std::vector<db::StoredKey>& keys) {
    for (const auto& k : keys) {
        if (k.alsoRegisteredTo.empty()) continue;
        printError("key " + k.fingerprint + " of " + name + " is also registered to " +
                   joinList(k.alsoRegisteredTo, ", ") +
                   ": the gateway refuses it for every one of them; remove it from all but its "
                   "owner (`portcullis user key remove ACCOUNT " +
                   k.fingerprint + "`)");
    }
}

int keyList(Invocation& inv) {
    const std::string& name = accountArg(inv);
    Store store(inv.globals());
    const auto keys = require(db::Accounts(store.db()).listKeys(name));
    if (inv.json()) {
        json out = json::array();
        for (const auto& k : keys) {
            json key = keyJson(k);
            key["also_registered_to"] = k.alsoRegisteredTo;
            out.push_back(std::move(key));
        }
        printJson(out);
        warnSharedKeys(name, keys);
        return kExitOk;
    }
    Table table({"FINGERPRINT", "TYPE", "COMMENT", "ADDED"});
    for (const auto& k : keys)
        table.addRow({k.fingerprint, k.type, orDash(k.comment), isoTime(k.createdAt)});
    table.print(std::cout, "account " + name +
                               " has no keys (add one with `portcullis user key add " + name +
                               " --file KEY.pub`)");
    warnSharedKeys(name, keys);
    return kExitOk;
}

int keyRemove(Invocation& inv) {
    const std::string& name = accountArg(inv);
    // Accept the fingerprint with or without its "SHA256:" prefix.
    const std::string fingerprint =
        inv.arg(1).starts_with("SHA256:") ? inv.arg(1) : "SHA256:" + inv.arg(1);
    Store store(inv.globals(), Store::Access::change);
    require(db::Accounts(store.db()).removeKey(name, fingerprint));
    store.recordChange("admin.user.key.remove", {{"account", name}, {"fingerprint", fingerprint}});
    if (!inv.json()) std::cout << "removed key " << fingerprint << " from account " << name << '\n';
    const json rechecked = recheckAccount(store, inv, name);
    if (inv.json()) {
        printJson({{"account", name},
                   {"fingerprint", fingerprint},
                   {"removed", true},
                   {"live_connections_rechecked", rechecked}});
    }
    return kExitOk;
}

// ---- TOTP -------------------------------------------------------------------

void wipe(std::string& text) {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
    text.clear();
}

// Wipes every string in a JSON document (the copies of a secret it holds).
void wipe(json& value) {
    if (value.is_string()) {
        wipe(value.get_ref<std::string&>());
    } else if (value.is_structured()) {
        for (auto& item : value) wipe(item);
    }
}

// The enrollment, with every copy of its secrets wiped when it goes out of scope.
struct ShownEnrollment {
    db::Enrollment enrollment;
    std::string secretText;  // base32
    ~ShownEnrollment() {
        wipe(secretText);
        wipe(enrollment.uri);
        for (auto& code : enrollment.recoveryCodes) wipe(code);
    }
};

void totpEnrollOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("issuer", "issuer shown in the authenticator app",
         cxxopts::value<std::string>()->default_value(std::string(kDefaultIssuer)), "S")
        ("qr", "the QR code for a dark terminal background, a light one, or none",
         cxxopts::value<std::string>()->default_value("dark"), "dark|light|none")
        ("force", "replace the TOTP secret and recovery codes of an enrolled account");
    // clang-format on
}

// --qr: how to draw the QR code, or not at all.
std::optional<QrBackground> requireQrOption(const std::string& value) {
    if (value == "dark") return QrBackground::dark;
    if (value == "light") return QrBackground::light;
    if (value == "none") return std::nullopt;
    throw UsageError("--qr: expected dark (a dark terminal background), light or none, got `" +
                     value + "`");
}

void printEnrollment(const std::string& name, const ShownEnrollment& shown,
                     std::optional<QrBackground> qrBackground) {
    const db::Enrollment& e = shown.enrollment;
    std::cout << "TOTP enrolled for account " << name << ".\n"
              << "WARNING: the secret and the recovery codes below are shown only once and\n"
                 "cannot be displayed again. Scan the QR code (or type the secret) into an\n"
                 "authenticator app now, and keep the recovery codes offline.\n\n"
              << "URI:    " << e.uri << '\n'
              << "Secret: " << shown.secretText << "  (base32; SHA1, 6 digits, 30 s)\n\n";
    if (qrBackground) {
        auto qr = renderTerminalQr(e.uri, *qrBackground);
        if (qr) {
            std::cout << *qr
                      << (*qrBackground == QrBackground::dark
                              ? "(drawn for a dark terminal background; on a light one: --qr=light)"
                              : "(drawn for a light terminal background; on a dark one: --qr=dark)")
                      << "\n\n";
            wipe(*qr);
        } else {
            std::cout << "(no QR code: " << qr.error() << ")\n\n";
        }
    }
    std::cout << "Recovery codes (each works once, instead of a TOTP code):\n";
    for (const auto& code : e.recoveryCodes) std::cout << "  " << code << '\n';
    std::cout.flush();
}

int totpEnroll(Invocation& inv) {
    const std::string& name = accountArg(inv);
    const std::string issuer = inv.optionOr("issuer");
    if (issuer.empty() || issuer.find(':') != std::string::npos) {
        throw UsageError("--issuer: give a non-empty name without ':'");
    }
    const auto qrBackground = requireQrOption(inv.optionOr("qr"));
    Store store(inv.globals(), Store::Access::change);
    db::Accounts accounts(store.db());
    const bool replaced = require(accounts.find(name)).totpEnrolled;
    const db::MasterKey key = store.masterKey();
    if (replaced && !inv.flag("force")) {
        throw Failure("account " + name +
                      " is enrolled already: enrolling again replaces its TOTP secret and "
                      "recovery codes, and the old ones stop working; add --force to do that");
    }
    ShownEnrollment shown{require(accounts.enrollTotp(name, key, issuer, systemNow())), {}};
    shown.secretText = base32Encode(shown.enrollment.secret.view());
    store.recordChange("admin.user.totp.enroll",
                       {{"account", name}, {"issuer", issuer}, {"replaced", replaced}});
    if (inv.json()) {
        json out = {{"account", name},
                    {"uri", shown.enrollment.uri},
                    {"secret", shown.secretText},
                    {"recovery_codes", shown.enrollment.recoveryCodes}};
        std::string text = out.dump(2);
        std::cout << text << std::endl;
        wipe(text);
        wipe(out);
    } else {
        if (replaced) std::cout << "(the earlier TOTP secret and recovery codes no longer work)\n";
        printEnrollment(name, shown, qrBackground);
    }
    return kExitOk;
}

int totpReset(Invocation& inv) {
    return changeAccount(inv, "totp.reset", "reset TOTP of", EndsAccess::yes,
                         [](db::Accounts& a, const std::string& n) { return a.resetTotp(n); });
}

}  // namespace

std::vector<CommandSpec> userCommands() {
    return {
        {.path = "user add",
         .usage = "NAME [--full-name S] [--email S]",
         .summary = "add an account",
         .run = userAdd,
         .options = addOptions,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user list", .usage = "", .summary = "list accounts", .run = userList},
        {.path = "user show",
         .usage = "NAME",
         .summary = "an account with its keys, groups, lock and TOTP state",
         .run = userShow,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user disable",
         .usage = "NAME",
         .summary = "refuse every login of an account",
         .run = userDisable,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user enable",
         .usage = "NAME",
         .summary = "allow a disabled account again",
         .run = userEnable,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user remove",
         .usage = "NAME",
         .summary = "delete an account with its keys and TOTP secret; revokes the grants that "
                    "name it",
         .run = userRemove,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user unlock",
         .usage = "NAME",
         .summary = "clear a lock-out after failed codes, and the throttles of the sources the "
                    "account was tried from",
         .run = userUnlock,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user key add",
         .usage = "NAME (--file PATH | -)",
         .summary = "register an OpenSSH public key; prints its SHA256 fingerprint",
         .run = keyAdd,
         .options = keyAddOptions,
         .minArgs = 1,
         .maxArgs = 2},
        {.path = "user key list",
         .usage = "NAME",
         .summary = "an account's keys",
         .run = keyList,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user key remove",
         .usage = "NAME FINGERPRINT",
         .summary = "unregister a key (SHA256:... as `user key list` shows)",
         .run = keyRemove,
         .minArgs = 2,
         .maxArgs = 2},
        {.path = "user totp enroll",
         .usage = "NAME [--issuer S] [--qr dark|light|none] [--force]",
         .summary = "new TOTP secret: URI, QR code and 10 recovery codes, shown once "
                    "(--force: replace an enrolled one)",
         .run = totpEnroll,
         .options = totpEnrollOptions,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "user totp reset",
         .usage = "NAME",
         .summary = "remove the TOTP secret and recovery codes (logins need a new enroll)",
         .run = totpReset,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
