#pragma once
// Source throttles (SPEC §8; issue 12 finding 3): failed codes counted per
// source key, the rules that refuse a source, and the admin view of them.
//
// A source key names where attempts come from: an address (an IPv6 /64) at
// the gateway; "pam:SERVICE:rhost=ADDR", "pam:SERVICE:tty=TTY" (or
// "pam:SERVICE:user=NAME" when the application gives neither) at the PAM
// module, so that a stranger on one terminal never slows down another.
//
// Every failure counts towards the source's window: `maxFailures` within
// `window` (from the first one) refuse the source until the window ends.
// Failures without a proven first factor (anyone at a PAM prompt) also back
// the source off: after `freeUnproven` of them in a row, each further one
// refuses the source for a delay that doubles from `backoff` up to
// `backoffMax`; a run is forgotten after `memory` without a failure, and ends
// with a success. An attempt while refused is not checked and does not count,
// so a stranger can slow a source down but never lock anyone out; they never
// count towards an account's lock-out (db::OtpGuard).
//
// The existing accounts tried from a source are kept with it (the newest
// kAccountsPerSource; names that are not accounts are never stored, since an
// account prompt may receive a code by mistake), so that `user unlock NAME`
// can clear the throttles NAME is involved in.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

inline constexpr int kAccountsPerSource = 16;

struct SourceRules {
    int maxFailures = 20;  // any kind, within `window`
    Seconds window{15 * 60};
    int freeUnproven = 3;  // unproven failures in a row before the first delay
    Seconds backoff{30};   // the first delay, doubled by each further failure
    Seconds backoffMax{15 * 60};
    Seconds memory{60 * 60};  // a run of unproven failures is forgotten after this
};

struct SourceThrottle {
    std::string source;
    std::int64_t failures = 0;  // in the window that started at windowStart
    TimePoint windowStart{};
    std::int64_t unproven = 0;  // consecutive failures without a proven first factor
    std::optional<TimePoint> lastFailure;
    std::optional<TimePoint> blockedUntil;  // the backoff's end
    std::vector<std::string> accounts;      // existing accounts tried, newest first

    // Until when attempts from this source are refused, when they are at `now`.
    std::optional<TimePoint> refusedUntil(TimePoint now, const SourceRules& rules) const;
    // The end of the counting window, while it is open.
    std::optional<TimePoint> windowEnd(TimePoint now, const SourceRules& rules) const;
    // Nothing about it matters any more (window over, no backoff, run forgotten).
    bool stale(TimePoint now, const SourceRules& rules) const;
};

// Runs inside the caller's transaction when there is one (OtpGuard), in a
// transaction of its own otherwise.
class SourceThrottles {
  public:
    explicit SourceThrottles(Database& db, SourceRules rules = {}) : db_(db), rules_(rules) {}

    std::optional<SourceThrottle> find(std::string_view source);
    // A failure from `source`. `account`: an existing account that was tried
    // (empty for none). Returns the end of the backoff this failure started.
    std::optional<TimePoint> recordFailure(std::string_view source, std::string_view account,
                                           bool firstFactorProven, TimePoint now);
    // A code accepted from `source`: a run of unproven failures ends.
    void recordSuccess(std::string_view source);

    // Sources whose throttle still matters at `now`, oldest window first.
    std::vector<SourceThrottle> list(TimePoint now);
    bool clear(std::string_view source);  // false: no such source
    std::vector<std::string> clearAll();  // the sources cleared
    // Clears every source `account` was tried from; returns them.
    std::vector<std::string> clearForAccount(std::string_view account);

  private:
    Database& db_;
    SourceRules rules_;
};

}  // namespace portcullis::db
