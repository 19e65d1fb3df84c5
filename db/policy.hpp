#pragma once
// Policy decisions (SPEC §5): deny by default; a request is allowed when at
// least one grant matches all of it. The decision names the grant used, or
// lists every reason for denial.
#include <optional>
#include <string>
#include <vector>

#include "common/time_format.hpp"
#include "db/accounts.hpp"
#include "db/database.hpp"
#include "db/grants.hpp"
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
};

// A ceiling from the gateway's configuration on every limit.
struct LimitCeiling {
    std::optional<Seconds> maxSession;
    std::optional<Seconds> idleTimeout;
};

struct Decision {
    bool allowed = false;
    std::optional<std::int64_t> grantId;  // the grant used (allowed only)
    std::string login;                    // resolved login (default applied)
    Seconds maxSession{0};                // most generous among matching grants, capped
    Seconds idleTimeout{0};
    // Forced end from expiry: the latest expiresAt among the matching grants
    // (the session may run while any of them lasts); none if one never expires.
    std::optional<TimePoint> endsBy;
    std::vector<std::string> reasons;  // denial: every reason, one line each
};

// Everything a decision needs, loaded once; evaluate() is pure (unit-testable).
struct PolicyInputs {
    std::optional<Account> account;  // nullopt: unknown account
    std::optional<Target> target;    // nullopt: unknown target
    std::vector<std::string> accountGroups;
    std::vector<Grant> grants;  // candidate grants (not revoked)
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
