#include "db/locks.hpp"

#include <array>
#include <optional>
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

namespace {

// The next UTF-8 character at `i` (advancing it), or nullopt when the bytes
// there are not one (invalid, overlong, surrogate).
std::optional<char32_t> nextCodePoint(std::string_view s, std::size_t& i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    int extra = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
        ++i;
        return b0;
    } else if ((b0 & 0xe0) == 0xc0) {
        extra = 1;
        cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
        extra = 2;
        cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
        extra = 3;
        cp = b0 & 0x07;
    } else {
        return std::nullopt;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return std::nullopt;
    for (int k = 1; k <= extra; ++k) {
        const unsigned char b = byte(i + static_cast<std::size_t>(k));
        if ((b & 0xc0) != 0x80) return std::nullopt;
        cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    i += static_cast<std::size_t>(extra) + 1;
    return cp;
}

// Characters a terminal acts on or that hide or reorder text.
bool unsafeOnTerminal(char32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff;
}

}  // namespace

Result<void> checkShownReason(std::string_view reason) {
    if (reason.size() > kMaxLockReason) {
        return makeError("the reason is longer than " + std::to_string(kMaxLockReason) +
                         " bytes (it is shown to the user on one line)");
    }
    for (std::size_t i = 0; i < reason.size();) {
        const auto cp = nextCodePoint(reason, i);
        if (!cp) return makeError("the reason is not valid UTF-8");
        if (unsafeOnTerminal(*cp)) {
            return makeError(
                "the reason holds a control or invisible character (line break, tab, escape, "
                "direction mark); it is shown to the user on one line");
        }
    }
    return {};
}

std::string shownReason(std::string_view reason) {
    if (checkShownReason(reason)) return std::string(reason);
    // Written to the store by something other than the CLI: printable ASCII only.
    std::string out;
    for (const char c : reason.substr(0, kMaxLockReason)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    return out;
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
            .bind(5, toUnix(now))
            .bind(6, toUnix(expiresAt))
            .run();
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
