#include "db/locks.hpp"

#include <array>
#include <utility>

#include "common/source_address.hpp"
#include "common/user_spec.hpp"
#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

constexpr std::array<std::pair<LockKind, const char*>, 3> kKindNames = {{
    {LockKind::user, "user"},
    {LockKind::target, "target"},
    {LockKind::source, "source"},
}};

constexpr const char* kColumns =
    "SELECT id, kind, value, reason, created_by, created_at, expires_at, removed_at, removed_by "
    "FROM locks";

Lock readLock(const Statement& st) {
    Lock l;
    l.id = st.int64(0);
    // The table's CHECK allows only the three kinds.
    if (auto kind = parseLockKind(st.text(1))) l.kind = *kind;
    l.value = st.text(2);
    l.reason = st.text(3);
    l.createdBy = st.text(4);
    l.createdAt = fromUnix(st.int64(5));
    if (auto e = st.optInt64(6)) l.expiresAt = fromUnix(*e);
    if (auto r = st.optInt64(7)) l.removedAt = fromUnix(*r);
    l.removedBy = st.text(8);
    return l;
}

bool rowExists(Database& db, const char* sql, std::string_view name) {
    auto st = db.prepare(sql);
    st.bind(1, name);
    return st.step();
}

}  // namespace

std::string lockKindName(LockKind kind) {
    for (const auto& [k, name] : kKindNames) {
        if (k == kind) return name;
    }
    return "unknown";
}

Result<LockKind> parseLockKind(std::string_view name) {
    for (const auto& [kind, text] : kKindNames) {
        if (name == text) return kind;
    }
    return makeError("unknown lock kind '" + std::string(name.substr(0, 32)) +
                     "' (use user NAME, target NAME or source ADDR)");
}

Result<void> checkLockReason(std::string_view reason) {
    if (reason.empty()) return makeError("a lock needs a reason (it is shown to the user)");
    return checkShownReason(reason);
}

Result<void> checkShownReason(std::string_view reason) {
    if (reason.size() > kMaxLockReason) {
        return makeError("the reason is longer than " + std::to_string(kMaxLockReason) +
                         " bytes (it is shown to the user on one line)");
    }
    for (const char c : reason) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return makeError(
                "the reason holds a control character (line break, tab, escape); it is shown "
                "to the user on one line");
        }
    }
    return {};
}

std::string Lock::status(TimePoint now) const {
    if (removedAt) return "removed";
    if (expiresAt && now >= *expiresAt) return "expired";
    return "active";
}

std::string Lock::denialReason() const {
    const std::string what = kind == LockKind::user     ? "account " + value
                             : kind == LockKind::target ? "target " + value
                                                        : "source " + value;
    return what + " is " + userMessage() + " (lock #" + std::to_string(id) + ")";
}

Result<Lock> Locks::add(LockKind kind, std::string_view value, std::string_view reason,
                        const std::string& by, std::optional<TimePoint> expiresAt, TimePoint now) {
    if (auto r = checkLockReason(reason); !r) return makeError(r.error());
    if (expiresAt && *expiresAt <= now)
        return makeError("the lock's end " + formatIso8601(*expiresAt) + " is not in the future");
    std::string stored(value);
    std::int64_t id = 0;
    {
        Transaction tx(db_);
        switch (kind) {
            case LockKind::user:
                if (!isValidName(value) ||
                    !rowExists(db_, "SELECT 1 FROM accounts WHERE name = ?", value)) {
                    return makeError("no account named " + std::string(value.substr(0, 64)) +
                                     " (see `portcullis user list`)");
                }
                break;
            case LockKind::target:
                if (!isValidName(value) ||
                    !rowExists(db_, "SELECT 1 FROM targets WHERE name = ?", value)) {
                    return makeError("no target named " + std::string(value.substr(0, 64)) +
                                     " (see `portcullis target list`)");
                }
                break;
            case LockKind::source: {
                auto range = SourceRange::parse(value);
                if (!range) return makeError(range.error());
                stored = range->toString();
                break;
            }
        }
        auto st = db_.prepare(
            "INSERT INTO locks (kind, value, reason, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)");
        st.bind(1, lockKindName(kind))
            .bind(2, stored)
            .bind(3, reason)
            .bind(4, by)
            .bind(5, toUnix(now));
        if (expiresAt) {
            st.bind(6, toUnix(*expiresAt));
        } else {
            st.bindNull(6);
        }
        st.run();
        id = db_.lastInsertId();
        tx.commit();
    }
    return find(id);
}

Result<Lock> Locks::find(std::int64_t id) {
    auto st = db_.prepare(std::string(kColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step())
        return makeError("no lock #" + std::to_string(id) + " (see `portcullis lock list --all`)");
    return readLock(st);
}

Result<Lock> Locks::remove(std::int64_t id, const std::string& by, TimePoint now) {
    {
        Transaction tx(db_);
        auto current = find(id);
        if (!current) return makeError(current.error());
        if (current->removedAt) {
            return makeError("lock #" + std::to_string(id) + " was already removed at " +
                             formatIso8601(*current->removedAt) +
                             (current->removedBy.empty() ? "" : " by " + current->removedBy));
        }
        if (!current->activeAt(now)) {
            return makeError("lock #" + std::to_string(id) + " already expired at " +
                             formatIso8601(*current->expiresAt));
        }
        db_.prepare("UPDATE locks SET removed_at = ?, removed_by = ? WHERE id = ?")
            .bind(1, toUnix(now))
            .bind(2, by)
            .bind(3, id)
            .run();
        tx.commit();
    }
    return find(id);
}

std::vector<Lock> Locks::list(TimePoint now, bool all) {
    auto st = db_.prepare(
        std::string(kColumns) +
        (all ? " ORDER BY id"
             : " WHERE removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY id"));
    if (!all) st.bind(1, toUnix(now));
    std::vector<Lock> out;
    while (st.step()) out.push_back(readLock(st));
    return out;
}

bool lockApplies(const Lock& lock, const LockQuery& query, TimePoint now) {
    if (!lock.activeAt(now)) return false;
    switch (lock.kind) {
        case LockKind::user:
            return !query.account.empty() && lock.value == query.account;
        case LockKind::target:
            return !query.target.empty() && lock.value == query.target;
        case LockKind::source: {
            // A stored range that no longer parses locks nothing it cannot
            // name; it still shows in `lock list`.
            const auto range = SourceRange::parse(lock.value);
            return !query.address.empty() && range && range->contains(query.address);
        }
    }
    return false;
}

std::vector<Lock> Locks::matching(const LockQuery& query, TimePoint now) {
    std::vector<Lock> out;
    for (auto& lock : list(now)) {
        if (lockApplies(lock, query, now)) out.push_back(std::move(lock));
    }
    return out;
}

}  // namespace portcullis::db
