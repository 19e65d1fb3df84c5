#pragma once
// Policy decisions (SPEC §5): deny by default; a request is allowed when at
// least one grant matches all of it. The decision names the grant used, or
// lists every reason for denial.
#include <optional>
#include <string>
#include <vector>

#include "common/forward_pattern.hpp"
#include "common/time_format.hpp"
#include "db/accounts.hpp"
#include "db/database.hpp"
#include "db/grants.hpp"
#include "db/locks.hpp"
#include "db/targets.hpp"

namespace portcullis::db {

struct AccessRequest {
    std::string account;
    std::string login;  // empty: the target's default login
    std::string target;
    Channel channel = Channel::shell;
    TimePoint at{};
    // A live session's re-check: a failure lock-out (locked_until) does not end
    // it, since failed codes typed by someone else must not revoke a person's
    // session (issue 12, finding 3); disabled, revoked, expired and outside the
    // window still deny.
    bool ongoing = false;
    // The client's address (empty: not known, e.g. `policy check`): a
    // source lock holding it denies.
    std::string source{};
    // A forward's destination (empty: not known): a grant that limits
    // forwards (`--forward-to`) allows only the destinations it names.
    std::optional<ForwardDestination> destination{};
};

// A ceiling from the gateway's configuration on every limit.
struct LimitCeiling {
    std::optional<Seconds> maxSession;
    std::optional<Seconds> idleTimeout;
};

// One rule for several matching grants (issue 13): the session is governed by
// ONE grant, the most generous that matches (the one that lets it run
// longest: the earliest of start + max-session, its window's close and its
// expiry; then the one without a forced end, the longer idle timeout, the
// lower id), and takes that grant's limits, capped by the ceiling.
struct Decision {
    bool allowed = false;
    std::optional<std::int64_t> grantId;  // the governing grant (allowed only)
    std::string login;                    // resolved login (default applied)
    Seconds maxSession{0};                // the governing grant's, capped
    Seconds idleTimeout{0};
    // The governing grant's forced end: the earlier of its window's close and
    // its expiry (none: neither), and what it is, for the user's notices.
    std::optional<TimePoint> endsBy;
    std::string endsByCause;  // "the window Mon-Fri 08:00-18:00 UTC closes", "grant #6 expires"
    int matchingGrants = 0;   // how many grants allowed the request
    // Denied while a grant's window is closed: when the first such window opens.
    std::optional<TimePoint> opensAt;
    std::vector<std::string> reasons;  // denial: every reason, one line each
    // Denied by an administrator's lock: the first that applies (its reason
    // is what the user is shown).
    std::optional<Lock> lock;
    // Denied a forward's destination: the patterns of the grants that would
    // otherwise have allowed it.
    std::vector<std::string> forwardPatterns;
    // When the session must end at the latest, from a start at `start`.
    TimePoint endsAt(TimePoint start) const {
        const TimePoint byTime = start + maxSession;
        return endsBy && *endsBy < byTime ? *endsBy : byTime;
    }
};

// Everything a decision needs, loaded once; evaluate() is pure (unit-testable).
struct PolicyInputs {
    std::optional<Account> account;  // nullopt: unknown account
    std::optional<Target> target;    // nullopt: unknown target
    std::vector<std::string> accountGroups;
    std::vector<Grant> grants;  // candidate grants (not revoked)
    std::vector<Lock> locks;    // locks that may apply (evaluate() checks each)
};

Decision evaluate(const PolicyInputs& inputs, const AccessRequest& request,
                  const LimitCeiling& ceiling = {});

class Policy {
  public:
    explicit Policy(Database& db) : db_(db) {}
    Decision decide(const AccessRequest& request, const LimitCeiling& ceiling = {});
    // Targets the account may reach now with some login over `channel` (the gateway's menu).
    std::vector<std::string> reachableTargets(const std::string& account, Channel channel,
                                              TimePoint at);

  private:
    Database& db_;
};

}  // namespace portcullis::db
