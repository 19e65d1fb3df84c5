// db::Recordings: a recording a crash left unsealed is marked ended at the
// next start without a hash, and is a leftover only once (issue 12 finding 5).
#include <gtest/gtest.h>

#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

TEST(RecordingsLeftover, MarkedEndedKeepsNoHashAndIsNoLongerALeftover) {
    test::TempStore store;
    Sessions sessions(store.db());
    SessionStart start;
    start.id = "0123456789abcdef0123456789abcdef";
    start.account = "alice";
    start.login = "root";
    start.target = "box";
    start.gateway = "gw:2222";
    start.startedAt = systemNow();
    sessions.insert(start);
    Recordings recordings(store.db());
    RecordingRow row;
    row.sessionId = start.id;
    row.kind = "shell";
    row.format = "cast";
    row.path = "recordings/" + start.id + ".cast";
    row.startedAt = systemNow();
    const auto id = recordings.add(row);

    // While the session is active it is no leftover.
    EXPECT_TRUE(recordings.unsealedOfEndedSessions().empty());
    ASSERT_EQ(sessions.abortActive("gw:2222", systemNow()), 1);
    ASSERT_EQ(recordings.unsealedOfEndedSessions().size(), 1u);

    EXPECT_TRUE(recordings.markEnded(id, systemNow()));
    EXPECT_FALSE(recordings.markEnded(id, systemNow()));  // once
    const auto rows = recordings.forSession(start.id);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_FALSE(rows[0].sealed());
    EXPECT_TRUE(rows[0].endedAt.has_value());
    EXPECT_TRUE(recordings.unsealedOfEndedSessions().empty());
    // A seal still applies (nothing else sets the hash).
    EXPECT_TRUE(recordings.seal(id, 10, std::string(64, 'a'), systemNow()));
    EXPECT_FALSE(recordings.markEnded(id, systemNow()));
}

}  // namespace
}  // namespace portcullis::db
