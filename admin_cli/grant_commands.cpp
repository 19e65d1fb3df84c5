// portcullis grant / revoke / policy ...: who may reach which target, and the
// decision the gateway would take.
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/grant_view.hpp"
#include "admin_cli/live_recheck.hpp"
#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "common/access_window.hpp"
#include "common/forward_pattern.hpp"
#include "common/glob.hpp"
#include "db/accounts.hpp"
#include "db/grants.hpp"
#include "db/policy.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

// SUBJECT: an account name or @group.
std::string requireSubject(const std::string& value) {
    if (value.starts_with('@')) return "@" + requireGroupName(value);
    return requireName(value, "account name (or @group)");
}

// TARGET: a target name or a glob over names (cosigner-*).
std::string requireTargetPattern(const std::string& value) {
    if (!isGlob(value)) return requireName(value, "target name");
    const bool ok = !value.empty() && value.size() <= 64 &&
                    value.find_first_not_of(
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-*?[]!") == std::string::npos;
    if (!ok) throw UsageError("`" + value + "` is not a target name or glob (e.g. cosigner-*)");
    requireUsage(db::checkTargetGlob(value), "TARGET");
    return value;
}

// ---- grant ------------------------------------------------------------------

void grantOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("logins", "logins allowed on the target (default: the target's default login)",
         cxxopts::value<std::string>(), "a,b")
        ("allow", "channels: shell,exec,sftp,forward (default: shell,exec)",
         cxxopts::value<std::string>(), "LIST")
        ("forward-to", "the only destinations forwards may reach (HOST and PORT globs, e.g. "
         "db.internal:5432,*.cache.internal:*,[2001:db8::10]:443; default: any)",
         cxxopts::value<std::string>(), "HOST:PORT,...")
        ("max-session", "session time limit (default 1h)", cxxopts::value<std::string>(), "DUR")
        ("idle-timeout", "close after this long without input (default 15m)",
         cxxopts::value<std::string>(), "DUR")
        ("window", "when the grant may be used: \"Mon-Fri 08:00-18:00 [ZONE]\" (UTC default)",
         cxxopts::value<std::string>(), "SPEC")
        ("expires", "end of the grant: DUR from now or ISO 8601 (default: never)",
         cxxopts::value<std::string>(), "WHEN")
        ("reason", "why (ticket, change request); kept with the grant and in the audit",
         cxxopts::value<std::string>(), "S");
    // clang-format on
}

db::Grant grantFromArguments(const Invocation& inv, TimePoint now) {
    db::Grant g;
    g.subject = requireSubject(inv.arg(0));
    g.targetPattern = requireTargetPattern(inv.arg(1));
    if (const auto logins = inv.option("logins")) {
        for (const auto& login : splitList(*logins, "--logins")) {
            g.logins.push_back(requireName(login, "login"));
        }
    }
    if (const auto allow = inv.option("allow")) {
        g.channels = requireUsage(db::parseChannels(*allow), "--allow");
    }
    if (const auto to = inv.option("forward-to")) {
        if (!g.channels.count(db::Channel::forward)) {
            throw UsageError("--forward-to limits forwards: allow them too (--allow ...,forward)");
        }
        for (const auto& p : requireUsage(parseForwardPatterns(*to), "--forward-to"))
            g.forwardTo.push_back(p.toString());
    }
    if (const auto d = inv.option("max-session"))
        g.maxSession = requireDuration(*d, "--max-session");
    if (const auto d = inv.option("idle-timeout"))
        g.idleTimeout = requireDuration(*d, "--idle-timeout");
    if (const auto window = inv.option("window")) {
        const AccessWindow parsed = requireUsage(AccessWindow::parse(*window), "--window");
        requireUsage(db::checkWindowHours(parsed), "--window");
        g.window = parsed.toString();
    }
    if (const auto expires = inv.option("expires")) {
        const TimePoint at = requireUsage(parseExpiry(*expires, now), "--expires");
        if (at <= now) throw UsageError("--expires: " + isoTime(at) + " is already past");
        g.expiresAt = at;
    }
    g.reason = inv.optionOr("reason");
    g.createdBy = operatorName();
    return g;
}

int grantAdd(Invocation& inv) {
    const TimePoint now = systemNow();
    const db::Grant request = grantFromArguments(inv, now);
    Store store(inv.globals(), Store::Access::change);
    // A plain name that is no target, or a broken glob, is a typo (exit 2); a
    // glob that matches nothing yet may be meant, and is only warned about.
    const auto matching =
        requireUsage(db::Grants(store.db()).targetsNamedBy(request.targetPattern), "TARGET");
    const db::Grant g = require(db::Grants(store.db()).add(request, now));
    json details = grantJson(g, now);
    for (const char* key : {"status", "revoked_at", "revoked_by", "created_at", "created_by"}) {
        details.erase(key);
    }
    details["grant_id"] = details["id"];
    details.erase("id");
    store.recordChange("admin.grant.add", std::move(details));
    if (inv.json()) {
        json out = grantJson(g, now);
        out["matching_targets"] = matching;
        printJson(out);
    } else {
        std::cout << "granted #" << g.id << ": " << describeGrant(g) << '\n';
    }
    if (matching.empty()) {
        printError("warning: " + g.targetPattern + " matches no target now: grant #" +
                   std::to_string(g.id) +
                   " reaches nothing until a target of a matching name is added (see "
                   "`portcullis target list`)");
    }
    return kExitOk;
}

// ---- revoke -----------------------------------------------------------------

int grantRevoke(Invocation& inv) {
    std::string text = inv.arg(0);
    if (text.starts_with('#')) text.erase(0, 1);
    const std::int64_t id = requirePositiveInteger(text, "GRANT_ID");
    Store store(inv.globals(), Store::Access::change);
    const TimePoint now = systemNow();
    const db::Grant g = require(db::Grants(store.db()).revoke(id, operatorName(), now));
    store.recordChange("admin.grant.revoke",
                       {{"grant_id", id}, {"subject", g.subject}, {"target", g.targetPattern}});
    if (!inv.json()) {
        std::cout << "revoked grant #" << id << " (" << g.subject << " -> " << g.targetPattern
                  << "); live sessions that relied on it end within a minute\n";
    }
    // Which connections relied on it is the daemon's to know: all are re-checked.
    const RecheckOutcome outcome = requestRecheck(store.dir(), std::nullopt);
    if (inv.json()) {
        json out = grantJson(g, now);
        out["live_connections_rechecked"] = recheckJson(outcome);
        printJson(out);
    } else {
        std::cout << outcome.note << '\n';
    }
    return kExitOk;
}

// ---- policy list ------------------------------------------------------------

void policyListOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("user", "grants that apply to this account (directly or via its groups)",
         cxxopts::value<std::string>(), "U")
        ("target", "grants whose target name or glob matches this target",
         cxxopts::value<std::string>(), "T")
        ("all", "include revoked grants");
    // clang-format on
}

int policyList(Invocation& inv) {
    db::GrantFilter filter;
    if (const auto user = inv.option("user")) filter.user = requireName(*user, "account name");
    if (const auto target = inv.option("target"))
        filter.target = requireName(*target, "target name");
    filter.includeRevoked = inv.flag("all");
    Store store(inv.globals());
    const auto grants = db::Grants(store.db()).list(filter);
    const TimePoint now = systemNow();
    if (inv.json()) {
        json out = json::array();
        for (const auto& g : grants) out.push_back(grantJson(g, now));
        printJson(out);
        return kExitOk;
    }
    Table table = grantTable();
    for (const auto& g : grants) addGrantRow(table, g, now);
    table.print(std::cout, "no grants (add one with `portcullis grant SUBJECT TARGET`)");
    return kExitOk;
}

// ---- policy check -----------------------------------------------------------

void policyCheckOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("channel", "shell, exec, sftp or forward",
         cxxopts::value<std::string>()->default_value("shell"), "C")
        ("to", "a forward's destination (with --channel forward): checked against --forward-to",
         cxxopts::value<std::string>(), "HOST:PORT")
        ("at", "decide at this instant (ISO 8601) instead of now", cxxopts::value<std::string>(),
         "TIME");
    // clang-format on
}

// "LOGIN@TARGET" or "TARGET" (the target's default login).
db::AccessRequest requestFromArguments(const Invocation& inv) {
    db::AccessRequest request;
    request.account = requireName(inv.arg(0), "account name");
    const std::string& where = inv.arg(1);
    if (const auto at = where.rfind('@'); at != std::string::npos) {
        request.login = requireName(where.substr(0, at), "login");
        request.target = requireName(where.substr(at + 1), "target name");
    } else {
        request.target = requireName(where, "target name");
    }
    request.channel = requireUsage(db::parseChannel(inv.optionOr("channel")), "--channel");
    if (const auto to = inv.option("to")) {
        if (request.channel != db::Channel::forward)
            throw UsageError("--to names a forward's destination: use it with --channel forward");
        request.destination = requireUsage(parseForwardDestination(*to), "--to");
    }
    const auto at = inv.option("at");
    request.at = at ? requireInstant(*at, "--at") : systemNow();
    return request;
}

// Why an account the policy allows could still not log in (issue 13): the
// gateway needs a registered key and an enrolled TOTP.
std::vector<std::string> loginNotes(db::Database& db, const std::string& account) {
    std::vector<std::string> notes;
    db::Accounts accounts(db);
    const auto found = accounts.find(account);
    if (!found) return notes;
    const auto keys = accounts.listKeys(account);
    if (keys && keys->empty()) {
        notes.push_back(account +
                        " cannot log in yet: no SSH key is registered (portcullis user "
                        "key add " +
                        account + " --file KEY.pub)");
    }
    if (!found->totpEnrolled) {
        notes.push_back(account +
                        " cannot log in yet: no TOTP authenticator is enrolled "
                        "(portcullis user totp enroll " +
                        account + ")");
    }
    return notes;
}

int policyCheck(Invocation& inv) {
    const db::AccessRequest request = requestFromArguments(inv);
    Store store(inv.globals());
    const db::Decision d = db::Policy(store.db()).decide(request);
    const auto notes = loginNotes(store.db(), request.account);
    const std::string login =
        !d.login.empty() ? d.login : (!request.login.empty() ? request.login : "(default login)");
    if (inv.json()) {
        printJson({{"allowed", d.allowed},
                   {"account", request.account},
                   {"login", d.login.empty() ? json(nullptr) : json(d.login)},
                   {"target", request.target},
                   {"channel", db::channelName(request.channel)},
                   {"destination",
                    request.destination ? json(request.destination->toString()) : json(nullptr)},
                   {"at", isoTime(request.at)},
                   {"grant_id", d.grantId ? json(*d.grantId) : json(nullptr)},
                   {"matching_grants", d.matchingGrants},
                   {"max_session_s", d.allowed ? json(d.maxSession.count()) : json(nullptr)},
                   {"idle_timeout_s", d.allowed ? json(d.idleTimeout.count()) : json(nullptr)},
                   {"ends_by", isoTimeOrNull(d.endsBy)},
                   {"ends_by_cause", d.endsBy ? json(d.endsByCause) : json(nullptr)},
                   {"ends_at", d.allowed ? json(isoTime(d.endsAt(request.at))) : json(nullptr)},
                   {"opens_at", isoTimeOrNull(d.opensAt)},
                   {"reasons", d.reasons},
                   {"notes", notes}});
    } else {
        const std::string who =
            request.account + " as " + login + "@" + request.target + " (" +
            db::channelName(request.channel) +
            (request.destination ? " to " + request.destination->toString() : "") + ")";
        if (d.allowed) {
            std::cout << "allowed: " << who << " by grant #" << d.grantId.value_or(0)
                      << ", max session " << formatDuration(d.maxSession) << ", idle timeout "
                      << formatDuration(d.idleTimeout);
            if (d.endsBy) std::cout << ", ends by " << isoTime(*d.endsBy);
            std::cout << '\n';
            // The one rule, said: which grant governs, and the real end.
            const bool forced = d.endsBy && *d.endsBy < request.at + d.maxSession;
            std::cout << "  a session starting then ends by " << isoTime(d.endsAt(request.at))
                      << " at the latest ("
                      << (forced ? d.endsByCause : "time limit " + formatDuration(d.maxSession))
                      << ")";
            if (d.matchingGrants > 1) {
                std::cout << "; grant #" << d.grantId.value_or(0) << " governs it, the most "
                          << "generous of " << d.matchingGrants << " matching grants";
            }
            std::cout << '\n';
            if (request.channel == db::Channel::forward && !request.destination) {
                if (const auto g = db::Grants(store.db()).find(*d.grantId);
                    g && !g->forwardTo.empty()) {
                    std::cout << "  forwards under grant #" << g->id << " may reach only "
                              << joinList(g->forwardTo, ", ") << " (check one with --to)\n";
                }
            }
        } else {
            std::cout << "denied: " << who << '\n';
            for (const auto& reason : d.reasons) std::cout << "  - " << reason << '\n';
            if (d.opensAt)
                std::cout << "  allowed from " << isoTime(*d.opensAt) << " (a window opens)\n";
        }
        for (const auto& note : notes) std::cout << "note: " << note << '\n';
    }
    return d.allowed ? kExitOk : kExitFailure;
}

}  // namespace

std::vector<CommandSpec> grantCommands() {
    return {
        {.path = "grant",
         .usage = "SUBJECT TARGET [--logins a,b] [--allow shell,exec,sftp,forward] "
                  "[--forward-to HOST:PORT[,...]] [--max-session DUR] [--idle-timeout DUR] "
                  "[--window SPEC] "
                  "[--expires DUR|ISO8601] [--reason S]",
         .summary = "let an account or @group reach a target (or glob); prints the grant id",
         .run = grantAdd,
         .options = grantOptions,
         .minArgs = 2,
         .maxArgs = 2},
        {.path = "revoke",
         .usage = "GRANT_ID",
         .summary = "revoke a grant",
         .run = grantRevoke,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "policy list",
         .usage = "[--user U] [--target T] [--all]",
         .summary = "list grants",
         .run = policyList,
         .options = policyListOptions},
        {.path = "policy check",
         .usage = "ACCOUNT [LOGIN@]TARGET [--channel shell|exec|sftp|forward] [--to HOST:PORT] "
                  "[--at ISO8601]",
         .summary = "the gateway's decision and its grant, or every reason for denial "
                    "(exit 0 allowed, 1 denied)",
         .run = policyCheck,
         .options = policyCheckOptions,
         .minArgs = 2,
         .maxArgs = 2},
    };
}

}  // namespace portcullis::cli
