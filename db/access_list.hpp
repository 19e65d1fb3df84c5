#pragma once
// What an account may reach, now and later (the gateway command `targets`,
// issue 13): one entry per target and grant that names the account (directly
// or through a group), not revoked and not yet expired, with when it can be
// used. Read-only; the policy (db/policy) still decides each request.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/time_format.hpp"
#include "db/database.hpp"
#include "db/grants.hpp"

namespace portcullis::db {

struct AccessEntry {
    std::string target;
    std::int64_t grantId = 0;
    std::vector<std::string> logins;  // the target's default login when the grant names none
    std::set<Channel> channels;
    std::optional<std::string> window;  // canonical text
    std::optional<TimePoint> expiresAt;
    Seconds maxSession{0};
    bool usableNow = false;               // inside its window (and the account usable)
    std::optional<TimePoint> nextChange;  // when the window closes (usable) or opens (not)
};

// Entries sorted by target, then grant id. An unknown or disabled account has none.
std::vector<AccessEntry> accessOf(Database& db, const std::string& account, TimePoint now);

}  // namespace portcullis::db
