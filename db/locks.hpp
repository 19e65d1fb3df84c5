#pragma once
// Locks for incident response (SPEC §16, issue 13), as Teleport's operators
// know them: an administrator locks a user, a target or a source (an address
// or a CIDR; an IPv6 /64 counts as one source), with a reason the user is
// shown, for a while or until removed. A lock refuses new logins and
// sessions and ends live ones at their next re-check (the CLI asks for one at
// once). Nothing is cached per process: every decision reads the store, so
// several gateways sharing it agree, and an expired lock needs no action.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

enum class LockKind { user, target, source };
std::string lockKindName(LockKind kind);
Result<LockKind> parseLockKind(std::string_view name);

// A reason an administrator gives that users are shown (a lock's, a
// `session kill --reason`): one line of printable text, at most this long.
inline constexpr std::size_t kMaxLockReason = 200;
Result<void> checkShownReason(std::string_view reason);
// The same, and not empty: a lock needs a reason.
Result<void> checkLockReason(std::string_view reason);
// `reason` as it may be shown: itself when it passes checkShownReason,
// otherwise cut and reduced to printable ASCII ('?' for anything else).
std::string shownReason(std::string_view reason);

struct Lock {
    std::int64_t id = 0;
    LockKind kind = LockKind::user;
    std::string value;  // account name, target name, or canonical CIDR
    std::string reason;
    std::string createdBy;
    TimePoint createdAt{};
    std::optional<TimePoint> expiresAt;
    std::optional<TimePoint> removedAt;
    std::string removedBy;

    bool activeAt(TimePoint now) const { return !removedAt && (!expiresAt || now < *expiresAt); }
    // "active", "expired" or "removed".
    std::string status(TimePoint now) const;
    // "user alice", "target box", "source 192.0.2.0/24".
    std::string subject() const { return lockKindName(kind) + " " + value; }
    // What a refused user reads: "locked by an administrator: REASON".
    std::string userMessage() const { return "locked by an administrator: " + shownReason(reason); }
    // A policy reason: "account alice is locked by an administrator: REASON (lock #3)".
    std::string denialReason() const;
};

// What a request is checked against; an empty field is not checked.
struct LockQuery {
    std::string account;
    std::string target;
    std::string address;  // the client's address as the gateway sees it
};

// Whether `lock` applies to the query at `now` (active, and naming its
// account, its target, or a range holding its address).
bool lockApplies(const Lock& lock, const LockQuery& query, TimePoint now);

class Locks {
  public:
    explicit Locks(Database& db) : db_(db) {}

    // A user or target lock must name an existing account or target (a typo
    // would lock nobody); a source is parsed and stored in canonical form.
    Result<Lock> add(LockKind kind, std::string_view value, std::string_view reason,
                     const std::string& by, std::optional<TimePoint> expiresAt, TimePoint now);
    Result<Lock> find(std::int64_t id);
    // Ends a lock early; refused when it already ended (removed or expired).
    Result<Lock> remove(std::int64_t id, const std::string& by, TimePoint now);
    // Active locks at `now` (all: every lock ever made), oldest first.
    std::vector<Lock> list(TimePoint now, bool all = false);
    // The active locks that apply to the query, oldest first.
    std::vector<Lock> matching(const LockQuery& query, TimePoint now);

  private:
    Database& db_;
};

}  // namespace portcullis::db
