#pragma once
// Sessions: one row per relayed connection (SPEC §6/§7): who, as whom, where,
// under which grant, from where, when, how it ended and how many bytes passed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

struct SessionStart {
    std::string id;  // random, 32 hex digits
    std::string account;
    std::string login;
    std::string target;
    std::optional<std::int64_t> grantId;
    std::string source;
    std::string gateway;  // which gateway process ("host:pid")
    TimePoint startedAt{};
};

struct SessionEnd {
    std::string status = "closed";  // closed, expired, killed, idle, revoked, aborted, failed
    std::string reason;
    std::int64_t bytesIn = 0;   // client -> target
    std::int64_t bytesOut = 0;  // target -> client
    TimePoint endedAt{};
};

// A stored session row (SPEC §4 `session list` / `session show`).
struct SessionRecord {
    std::string id;
    std::string account;
    std::string login;
    std::string target;
    std::optional<std::int64_t> grantId;
    std::string source;
    std::string gateway;
    TimePoint startedAt{};
    std::optional<TimePoint> endedAt;
    std::string status;  // active, closed, expired, killed, idle, revoked, locked, aborted, failed
    std::string endReason;
    std::int64_t bytesIn = 0;
    std::int64_t bytesOut = 0;
};

struct SessionFilter {
    std::optional<std::string> account;
    std::optional<std::string> target;
    std::optional<TimePoint> since;  // started at or after
    bool activeOnly = false;
    int limit = 100;  // the newest `limit` sessions, returned oldest first
};

class Sessions {
  public:
    explicit Sessions(Database& db) : db_(db) {}

    void insert(const SessionStart& start);
    // Only an active session is finished; returns false if it was not active.
    bool finish(const std::string& id, const SessionEnd& end);
    // Marks every session still active for this gateway as aborted (start-up
    // after a crash); returns how many.
    int abortActive(const std::string& gateway, TimePoint now);

    std::vector<SessionRecord> list(const SessionFilter& filter);
    std::optional<SessionRecord> find(const std::string& id);
    // Ids that start with `prefix` (a session named like git names commits),
    // at most `limit` of them, in id order.
    std::vector<std::string> idsStartingWith(const std::string& prefix, int limit);
    // Ids of sessions that ended before `cutoff` (prune); active ones never.
    std::vector<std::string> endedBefore(TimePoint cutoff);
    // Removes an ended session and its recording rows; false if none or active.
    bool remove(const std::string& id);

  private:
    Database& db_;
};

}  // namespace portcullis::db
