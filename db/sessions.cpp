#include "db/sessions.hpp"

#include <algorithm>

#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {
constexpr const char* kSelectColumns =
    "SELECT id, account, login, target, grant_id, source, gateway, started_at, ended_at, status, "
    "end_reason, bytes_in, bytes_out FROM sessions";

SessionRecord readRecord(const Statement& st) {
    SessionRecord r;
    r.id = st.text(0);
    r.account = st.text(1);
    r.login = st.text(2);
    r.target = st.text(3);
    r.grantId = st.optInt64(4);
    r.source = st.text(5);
    r.gateway = st.text(6);
    r.startedAt = fromUnix(st.int64(7));
    if (const auto ended = st.optInt64(8)) r.endedAt = fromUnix(*ended);
    r.status = st.text(9);
    r.endReason = st.text(10);
    r.bytesIn = st.int64(11);
    r.bytesOut = st.int64(12);
    return r;
}
}  // namespace

void Sessions::insert(const SessionStart& s) {
    auto st = db_.prepare(
        "INSERT INTO sessions (id, account, login, target, grant_id, source, gateway, started_at, "
        "status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active')");
    st.bind(1, s.id).bind(2, s.account).bind(3, s.login).bind(4, s.target).bind(5, s.grantId);
    st.bind(6, s.source).bind(7, s.gateway).bind(8, toUnix(s.startedAt));
    st.run();
}

bool Sessions::finish(const std::string& id, const SessionEnd& e) {
    auto st = db_.prepare(
        "UPDATE sessions SET ended_at = ?, status = ?, end_reason = ?, bytes_in = ?, bytes_out = ? "
        "WHERE id = ? AND status = 'active'");
    st.bind(1, toUnix(e.endedAt)).bind(2, e.status).bind(3, e.reason).bind(4, e.bytesIn);
    st.bind(5, e.bytesOut).bind(6, id);
    st.run();
    return db_.changes() > 0;
}

int Sessions::abortActive(const std::string& gateway, TimePoint now) {
    auto st = db_.prepare(
        "UPDATE sessions SET ended_at = ?, status = 'aborted', end_reason = 'gateway restarted' "
        "WHERE status = 'active' AND gateway = ?");
    st.bind(1, toUnix(now)).bind(2, gateway);
    st.run();
    return db_.changes();
}

std::vector<SessionRecord> Sessions::list(const SessionFilter& filter) {
    std::string sql = std::string(kSelectColumns) + " WHERE 1";
    if (filter.account) sql += " AND account = ?1";
    if (filter.target) sql += " AND target = ?2";
    if (filter.since) sql += " AND started_at >= ?3";
    if (filter.activeOnly) sql += " AND status = 'active'";
    sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?4";
    auto st = db_.prepare(sql);
    if (filter.account) st.bind(1, *filter.account);
    if (filter.target) st.bind(2, *filter.target);
    if (filter.since) st.bind(3, toUnix(*filter.since));
    st.bind(4, static_cast<std::int64_t>(filter.limit));
    std::vector<SessionRecord> out;
    while (st.step()) out.push_back(readRecord(st));
    std::reverse(out.begin(), out.end());
    return out;
}

std::optional<SessionRecord> Sessions::find(const std::string& id) {
    auto st = db_.prepare(std::string(kSelectColumns) + " WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return readRecord(st);
}

std::vector<std::string> Sessions::idsStartingWith(const std::string& prefix, int limit) {
    // substr, not LIKE: '%' and '_' in the prefix are not wildcards.
    auto st = db_.prepare(
        "SELECT id FROM sessions WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT ?2");
    st.bind(1, prefix).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> ids;
    while (st.step()) ids.push_back(st.text(0));
    return ids;
}

std::vector<std::string> Sessions::endedBefore(TimePoint cutoff) {
    auto st = db_.prepare(
        "SELECT id FROM sessions WHERE status != 'active' AND ended_at < ? ORDER BY started_at");
    st.bind(1, toUnix(cutoff));
    std::vector<std::string> ids;
    while (st.step()) ids.push_back(st.text(0));
    return ids;
}

bool Sessions::remove(const std::string& id) {
    auto st = db_.prepare("DELETE FROM sessions WHERE id = ? AND status != 'active'");
    st.bind(1, id);
    st.run();
    return db_.changes() > 0;
}

}  // namespace portcullis::db
