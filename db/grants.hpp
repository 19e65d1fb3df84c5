#pragma once
// Grants: who (account or @group) may reach which targets (name or glob), as
// which logins, over which channels, when, and for how long.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis {
class AccessWindow;
}

namespace portcullis::db {

enum class Channel { shell, exec, sftp, forward };
std::string channelName(Channel c);
Result<Channel> parseChannel(std::string_view name);
// "shell,exec" -> {shell, exec}; rejects unknown names and an empty list.
Result<std::set<Channel>> parseChannels(std::string_view list);

// A window's hours must not start and end at the same minute ("08:00-08:00"
// reads as no time or as all day): refused (issue 12, finding 6).
Result<void> checkWindowHours(const AccessWindow& window);

// A Unix login name as a grant or target may name it: a valid name (see
// isValidName), optionally ending in '$'.
bool isValidLoginName(std::string_view name);

// A target glob as grants take it: every '[' opens a set that is closed, and
// ']' and '!' appear only inside one (outside, they could never match a
// target name, so they are a typo: `cos[igner`).
Result<void> checkTargetGlob(std::string_view pattern);

inline constexpr Seconds kDefaultMaxSession{60 * 60};
inline constexpr Seconds kDefaultIdleTimeout{15 * 60};

struct Grant {
    std::int64_t id = 0;
    std::string subject;              // "alice" or "@oncall"
    std::string targetPattern;        // "cosigner-1" or "cosigner-*"
    std::vector<std::string> logins;  // empty: the target's default login
    std::set<Channel> channels{Channel::shell, Channel::exec};
    // Destinations a forward may reach ("HOST:PORT" patterns, see
    // common/forward_pattern.hpp); empty: any destination.
    std::vector<std::string> forwardTo;
    Seconds maxSession = kDefaultMaxSession;
    Seconds idleTimeout = kDefaultIdleTimeout;
    std::optional<std::string> window;  // AccessWindow spec, canonical form
    std::optional<TimePoint> expiresAt;
    std::string reason;
    std::string createdBy;
    TimePoint createdAt{};
    std::optional<TimePoint> revokedAt;
    std::string revokedBy;
};

struct GrantFilter {
    std::optional<std::string> user;    // grants whose subject is the user or one of its groups
    std::optional<std::string> target;  // grants whose pattern matches this target name
    bool includeRevoked = false;
};

class Grants {
  public:
    explicit Grants(Database& db) : db_(db) {}

    // Validates subject (account or group exists), pattern, window (whose
    // hours must not start and end at the same minute), forward destinations
    // (only with the forward channel); returns the new grant.
    Result<Grant> add(const Grant& grant, TimePoint now);
    // What a grant's TARGET names now (issue 13): a plain name must be a
    // target; a glob must be well formed (see checkTargetGlob). Returns the
    // targets it matches now: empty for a glob that matches nothing yet.
    Result<std::vector<std::string>> targetsNamedBy(const std::string& pattern);
    Result<Grant> find(std::int64_t id);
    std::vector<Grant> list(const GrantFilter& filter = {});
    Result<Grant> revoke(std::int64_t id, const std::string& by, TimePoint now);
    // When an account or group is removed (issue 12, finding 6): revokes the
    // live grants whose subject is exactly `subject` ("alice" or "@oncall"),
    // so that a new account or group of the same name inherits nothing.
    std::vector<Grant> revokeForSubject(const std::string& subject, const std::string& by,
                                        TimePoint now);
    // When a target is removed: the live grants whose pattern is exactly its
    // name (globs stay: they name no one target).
    std::vector<Grant> revokeForTarget(const std::string& target, const std::string& by,
                                       TimePoint now);

  private:
    Database& db_;
};

}  // namespace portcullis::db
