#include "db/source_throttles.hpp"

#include <algorithm>

#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

// Rows nobody needs any more are deleted once they are this old, so that a
// flood from many addresses does not grow the table without bound.
constexpr Seconds kRetention{24 * 60 * 60};

constexpr const char* kColumns =
    "SELECT source, failures, window_start, unproven, last_failure, blocked_until "
    "FROM source_failures";

SourceThrottle readRow(const Statement& st) {
    SourceThrottle t;
    t.source = st.text(0);
    t.failures = st.int64(1);
    t.windowStart = fromUnix(st.int64(2));
    t.unproven = st.int64(3);
    if (const auto last = st.optInt64(4)) t.lastFailure = fromUnix(*last);
    if (const auto until = st.optInt64(5)) t.blockedUntil = fromUnix(*until);
    return t;
}

std::vector<std::string> accountsOf(Database& db, std::string_view source) {
    auto st = db.prepare(
        "SELECT account FROM source_failure_accounts WHERE source = ? "
        "ORDER BY last_at DESC, account");
    st.bind(1, source);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

// The delay after `unproven` failures in a row: none for the first
// `freeUnproven`, then backoff, 2 x backoff, ... up to backoffMax.
Seconds backoffAfter(std::int64_t unproven, const SourceRules& rules) {
    if (unproven <= rules.freeUnproven) return Seconds{0};
    Seconds delay = rules.backoff;
    for (std::int64_t i = rules.freeUnproven + 1; i < unproven && delay < rules.backoffMax; ++i) {
        delay *= 2;
    }
    return std::min(delay, rules.backoffMax);
}

bool runRemembered(const SourceThrottle& t, TimePoint now, const SourceRules& rules) {
    return t.unproven > 0 && t.lastFailure && now - *t.lastFailure < rules.memory;
}

std::vector<std::string> deleteSources(Database& db, const std::vector<std::string>& sources) {
    auto st = db.prepare("DELETE FROM source_failures WHERE source = ?");
    for (const auto& source : sources) {
        st.reset();
        st.bind(1, source).run();
    }
    return sources;
}

}  // namespace

std::optional<TimePoint> SourceThrottle::windowEnd(TimePoint now, const SourceRules& rules) const {
    // A window_start in the future (another host's clock runs ahead) keeps the
    // window open rather than resetting the count.
    if (failures <= 0 || now - windowStart >= rules.window) return std::nullopt;
    return windowStart + rules.window;
}

std::optional<TimePoint> SourceThrottle::refusedUntil(TimePoint now,
                                                      const SourceRules& rules) const {
    std::optional<TimePoint> until;
    if (blockedUntil && *blockedUntil > now) until = blockedUntil;
    if (const auto end = windowEnd(now, rules); end && failures >= rules.maxFailures) {
        if (!until || *end > *until) until = end;
    }
    return until;
}

bool SourceThrottle::stale(TimePoint now, const SourceRules& rules) const {
    return !windowEnd(now, rules) && !refusedUntil(now, rules) && !runRemembered(*this, now, rules);
}

std::optional<SourceThrottle> SourceThrottles::find(std::string_view source) {
    auto st = db_.prepare(std::string(kColumns) + " WHERE source = ?");
    st.bind(1, source);
    if (!st.step()) return std::nullopt;
    SourceThrottle t = readRow(st);
    t.accounts = accountsOf(db_, source);
    return t;
}

std::optional<TimePoint> SourceThrottles::recordFailure(std::string_view source,
                                                        std::string_view account,
                                                        bool firstFactorProven, TimePoint now) {
    Transaction tx(db_);
    const auto row = find(source);
    SourceThrottle next;
    next.source = std::string(source);
    if (row && row->windowEnd(now, rules_)) {
        next.failures = row->failures + 1;
        next.windowStart = row->windowStart;
    } else {
        next.failures = 1;
        next.windowStart = now;
    }
    if (row) {
        next.unproven = row->unproven;
        next.blockedUntil = row->blockedUntil;
    }
    std::optional<TimePoint> started;
    if (!firstFactorProven) {
        next.unproven = row && runRemembered(*row, now, rules_) ? row->unproven + 1 : 1;
        if (const Seconds delay = backoffAfter(next.unproven, rules_); delay > Seconds{0}) {
            next.blockedUntil = now + delay;
            started = next.blockedUntil;
        }
    }
    db_.prepare(
           "INSERT INTO source_failures "
           "(source, failures, window_start, unproven, last_failure, blocked_until) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source) DO UPDATE SET "
           "failures = ?2, window_start = ?3, unproven = ?4, last_failure = ?5, "
           "blocked_until = ?6")
        .bind(1, source)
        .bind(2, next.failures)
        .bind(3, toUnix(next.windowStart))
        .bind(4, next.unproven)
        .bind(5, toUnix(now))
        .bind(6, next.blockedUntil ? std::optional(toUnix(*next.blockedUntil)) : std::nullopt)
        .run();
    if (!account.empty()) {
        db_.prepare(
               "INSERT INTO source_failure_accounts (source, account, last_at) VALUES (?1, ?2, ?3) "
               "ON CONFLICT (source, account) DO UPDATE SET last_at = ?3")
            .bind(1, source)
            .bind(2, account)
            .bind(3, toUnix(now))
            .run();
        db_.prepare(
               "DELETE FROM source_failure_accounts WHERE source = ?1 AND account NOT IN "
               "(SELECT account FROM source_failure_accounts WHERE source = ?1 "
               "ORDER BY last_at DESC, account LIMIT ?2)")
            .bind(1, source)
            .bind(2, kAccountsPerSource)
            .run();
    }
    const std::int64_t old = toUnix(now - kRetention);
    db_.prepare(
           "DELETE FROM source_failures WHERE source != ?1 AND window_start < ?2 AND "
           "coalesce(last_failure, 0) < ?2 AND coalesce(blocked_until, 0) < ?3")
        .bind(1, source)
        .bind(2, old)
        .bind(3, toUnix(now))
        .run();
    tx.commit();
    return started;
}

void SourceThrottles::recordSuccess(std::string_view source) {
    db_.prepare(
           "UPDATE source_failures SET unproven = 0, blocked_until = NULL WHERE source = ? AND "
           "(unproven != 0 OR blocked_until IS NOT NULL)")
        .bind(1, source)
        .run();
}

std::vector<SourceThrottle> SourceThrottles::list(TimePoint now) {
    auto st = db_.prepare(std::string(kColumns) + " ORDER BY window_start, source");
    std::vector<SourceThrottle> out;
    while (st.step()) {
        SourceThrottle t = readRow(st);
        if (t.stale(now, rules_)) continue;
        out.push_back(std::move(t));
    }
    for (auto& t : out) t.accounts = accountsOf(db_, t.source);
    return out;
}

bool SourceThrottles::clear(std::string_view source) {
    Transaction tx(db_);
    db_.prepare("DELETE FROM source_failures WHERE source = ?").bind(1, source).run();
    const bool cleared = db_.changes() > 0;
    tx.commit();
    return cleared;
}

std::vector<std::string> SourceThrottles::clearAll() {
    Transaction tx(db_);
    std::vector<std::string> sources;
    {
        auto st = db_.prepare("SELECT source FROM source_failures ORDER BY source");
        while (st.step()) sources.push_back(st.text(0));
    }
    deleteSources(db_, sources);
    tx.commit();
    return sources;
}

std::vector<std::string> SourceThrottles::clearForAccount(std::string_view account) {
    Transaction tx(db_);
    std::vector<std::string> sources;
    {
        auto st = db_.prepare(
            "SELECT DISTINCT source FROM source_failure_accounts WHERE account = ? "
            "ORDER BY source");
        st.bind(1, account);
        while (st.step()) sources.push_back(st.text(0));
    }
    deleteSources(db_, sources);
    tx.commit();
    return sources;
}

}  // namespace portcullis::db
