// portcullis lock ...: locks for incident response (SPEC §16, issue 13). A
// lock refuses a user, a target or a source (an address or CIDR) until it
// expires or is removed; live sessions it concerns end within a second (the
// daemon is asked to re-check them at once) and their users are shown the
// reason.
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/live_recheck.hpp"
#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "common/source_address.hpp"
#include "db/locks.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

json lockJson(const db::Lock& l, TimePoint now) {
    return {{"id", l.id},
            {"kind", db::lockKindName(l.kind)},
            {"value", l.value},
            {"reason", l.reason},
            {"created_by", l.createdBy},
            {"created_at", isoTime(l.createdAt)},
            {"expires_at", isoTimeOrNull(l.expiresAt)},
            {"removed_at", isoTimeOrNull(l.removedAt)},
            {"removed_by", l.removedAt ? json(l.removedBy) : json(nullptr)},
            {"status", l.status(now)}};
}

std::int64_t requireLockId(const std::string& value) {
    std::string text = value;
    if (text.starts_with('#')) text.erase(0, 1);
    return requirePositiveInteger(text, "ID");
}

// ---- lock add ---------------------------------------------------------------

void lockAddOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("reason", "why (shown to the user it refuses, kept in the audit chain; required)",
         cxxopts::value<std::string>(), "TEXT")
        ("for", "end the lock after this long (default: until `lock remove`)",
         cxxopts::value<std::string>(), "DUR");
    // clang-format on
}

int lockAdd(Invocation& inv) {
    const auto kind = requireUsage(db::parseLockKind(inv.arg(0)), "lock add");
    std::string value = inv.arg(1);
    switch (kind) {
        case db::LockKind::user:
            value = requireName(value, "account name");
            break;
        case db::LockKind::target:
            value = requireName(value, "target name");
            break;
        case db::LockKind::source:
            requireUsage(SourceRange::parse(value), "source");
            break;
    }
    const auto reason = inv.option("reason");
    if (!reason) {
        throw UsageError(
            "--reason TEXT is required: the user it refuses is shown it (e.g. "
            "--reason 'INC-42: laptop reported stolen')");
    }
    requireUsage(db::checkLockReason(*reason), "--reason");
    const TimePoint now = systemNow();
    std::optional<TimePoint> until;
    if (const auto d = inv.option("for")) until = now + requireDuration(*d, "--for");

    Store store(inv.globals(), Store::Access::change);
    const db::Lock lock =
        require(db::Locks(store.db()).add(kind, value, *reason, operatorName(), until, now));
    store.recordChange("admin.lock.add", {{"lock_id", lock.id},
                                          {"kind", db::lockKindName(lock.kind)},
                                          {"value", lock.value},
                                          {"reason", lock.reason},
                                          {"expires_at", isoTimeOrNull(lock.expiresAt)}});
    if (!inv.json()) {
        std::cout << "locked #" << lock.id << ": " << lock.subject() << ", "
                  << (lock.expiresAt ? "until " + isoTime(*lock.expiresAt) : "until removed")
                  << " (reason: " << lock.reason << ")\n";
        if (kind == db::LockKind::source && value != lock.value) {
            std::cout << "note: stored as " << lock.value
                      << (lock.value.find(':') != std::string::npos
                              ? " (an IPv6 /64 is one source: its addresses rotate)"
                              : "")
                      << '\n';
        }
    }
    // Live sessions it concerns end now, not at their next periodic re-check.
    const RecheckOutcome outcome = requestRecheck(
        store.dir(), kind == db::LockKind::user ? std::optional(lock.value) : std::nullopt);
    if (inv.json()) {
        json out = lockJson(lock, now);
        out["live_connections_rechecked"] = recheckJson(outcome);
        printJson(out);
    } else {
        std::cout << outcome.note << '\n';
    }
    return kExitOk;
}

// ---- lock list --------------------------------------------------------------

void lockListOptions(cxxopts::Options& o) {
    o.add_options()("all", "also locks that expired or were removed");
}

int lockList(Invocation& inv) {
    Store store(inv.globals());
    const TimePoint now = systemNow();
    const auto locks = db::Locks(store.db()).list(now, inv.flag("all"));
    if (inv.json()) {
        json out = json::array();
        for (const auto& l : locks) out.push_back(lockJson(l, now));
        printJson(out);
        return kExitOk;
    }
    Table table({"ID", "LOCKED", "REASON", "SINCE", "BY", "UNTIL", "STATUS"});
    for (const auto& l : locks) {
        table.addRow({std::to_string(l.id), l.subject(), l.reason, isoTime(l.createdAt),
                      l.createdBy,
                      l.removedAt ? "removed " + isoTime(*l.removedAt) + " by " + l.removedBy
                                  : isoTimeOr(l.expiresAt, "until removed"),
                      l.status(now)});
    }
    table.print(std::cout, inv.flag("all") ? "no lock was ever made"
                                           : "no active lock (`lock list --all` shows past ones)");
    return kExitOk;
}

// ---- lock remove ------------------------------------------------------------

int lockRemove(Invocation& inv) {
    const std::int64_t id = requireLockId(inv.arg(0));
    Store store(inv.globals(), Store::Access::change);
    const TimePoint now = systemNow();
    const db::Lock lock = require(db::Locks(store.db()).remove(id, operatorName(), now));
    store.recordChange("admin.lock.remove", {{"lock_id", lock.id},
                                             {"kind", db::lockKindName(lock.kind)},
                                             {"value", lock.value},
                                             {"reason", lock.reason}});
    if (inv.json()) {
        printJson(lockJson(lock, now));
    } else {
        std::cout << "removed lock #" << lock.id << " (" << lock.subject()
                  << "); new logins and sessions are decided by the grants again\n";
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> lockCommands() {
    return {
        {.path = "lock add",
         .usage = "(user NAME | target NAME | source ADDR[/BITS]) --reason TEXT [--for DUR]",
         .summary = "refuse a user, target or source now (live sessions end within a second, "
                    "users see the reason); prints the lock's id",
         .run = lockAdd,
         .options = lockAddOptions,
         .minArgs = 2,
         .maxArgs = 2},
        {.path = "lock list",
         .usage = "[--all]",
         .summary = "active locks (--all: expired and removed ones too)",
         .run = lockList,
         .options = lockListOptions},
        {.path = "lock remove",
         .usage = "ID",
         .summary = "end a lock before it expires",
         .run = lockRemove,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
