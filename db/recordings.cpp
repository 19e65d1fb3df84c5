#include "db/recordings.hpp"

#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

constexpr const char* kSelect =
    "SELECT r.id, r.session_id, r.channel, r.kind, r.format, r.path, r.started_at, r.ended_at, "
    "r.size, r.sha256 FROM recordings r";

RecordingRow readRow(const Statement& st) {
    RecordingRow r;
    r.id = st.int64(0);
    r.sessionId = st.text(1);
    r.channel = static_cast<int>(st.int64(2));
    r.kind = st.text(3);
    r.format = st.text(4);
    r.path = st.text(5);
    r.startedAt = fromUnix(st.int64(6));
    if (const auto ended = st.optInt64(7)) r.endedAt = fromUnix(*ended);
    r.size = st.optInt64(8);
    r.sha256 = st.optText(9);
    return r;
}

std::vector<RecordingRow> readAll(Statement& st) {
    std::vector<RecordingRow> rows;
    while (st.step()) rows.push_back(readRow(st));
    return rows;
}

}  // namespace

std::int64_t Recordings::add(const RecordingRow& row) {
    auto st = db_.prepare(
        "INSERT INTO recordings (session_id, channel, kind, format, path, started_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    st.bind(1, row.sessionId).bind(2, row.channel).bind(3, row.kind).bind(4, row.format);
    st.bind(5, row.path).bind(6, toUnix(row.startedAt));
    st.run();
    return db_.lastInsertId();
}

bool Recordings::seal(std::int64_t id, std::int64_t size, const std::string& sha256,
                      TimePoint endedAt) {
    auto st = db_.prepare(
        "UPDATE recordings SET size = ?, sha256 = ?, ended_at = ? WHERE id = ? AND sha256 IS NULL");
    st.bind(1, size).bind(2, sha256).bind(3, toUnix(endedAt)).bind(4, id);
    st.run();
    return db_.changes() > 0;
}

bool Recordings::markEnded(std::int64_t id, TimePoint endedAt) {
    auto st = db_.prepare(
        "UPDATE recordings SET ended_at = ? WHERE id = ? AND sha256 IS NULL AND ended_at IS NULL");
    st.bind(1, toUnix(endedAt)).bind(2, id);
    st.run();
    return db_.changes() > 0;
}

std::vector<RecordingRow> Recordings::forSession(const std::string& sessionId) {
    auto st = db_.prepare(std::string(kSelect) + " WHERE r.session_id = ? ORDER BY r.channel");
    st.bind(1, sessionId);
    return readAll(st);
}

std::vector<RecordingRow> Recordings::unsealedOfEndedSessions() {
    auto st = db_.prepare(std::string(kSelect) +
                          " JOIN sessions s ON s.id = r.session_id"
                          " WHERE r.sha256 IS NULL AND r.ended_at IS NULL AND s.status != 'active'"
                          " ORDER BY r.id");
    return readAll(st);
}

std::vector<RecordingRow> Recordings::all() {
    auto st = db_.prepare(std::string(kSelect) +
                          " JOIN sessions s ON s.id = r.session_id"
                          " ORDER BY s.started_at, s.rowid, r.channel");
    return readAll(st);
}

}  // namespace portcullis::db
