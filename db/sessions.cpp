#include "db/sessions.hpp"

namespace portcullis::db {
namespace {
std::int64_t toUnix(TimePoint t) {
    return t.time_since_epoch().count();
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

}  // namespace portcullis::db
