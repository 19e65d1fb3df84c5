// The audit chain: canonical JSON, the hash chain, tamper detection, the
// audit.log mirror and list filters.
#include "db/audit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "common/encoding.hpp"
#include "db/database.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using json = nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class AuditLogTest : public ::testing::Test {
  protected:
    AuditLog mirrored() { return AuditLog(db_, &store_.dir(), /*syslog=*/false); }
    AuditLog unmirrored() { return AuditLog(db_, nullptr, /*syslog=*/false); }

    static AuditEvent event(int i, const std::string& type = "admin.user.add") {
        AuditEvent e;
        e.type = type;
        e.actor = "root";
        e.source = "10.0.0." + std::to_string(i % 250);
        e.details = json{{"account", "user" + std::to_string(i)}, {"n", i}};
        return e;
    }

    void recordMany(AuditLog& log, int n) {
        for (int i = 1; i <= n; ++i) log.record(event(i));
    }

    std::vector<std::string> logLines() const {
        std::vector<std::string> lines;
        std::ifstream in(store_.dir().auditLog());
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }

    void sql(const std::string& text) { db_.exec(text); }

    test::TempStore store_;
    Database& db_ = store_.db();
};

// Does any problem mention this event id and this word?
::testing::Matcher<std::vector<AuditProblem>> reports(int id, const std::string& kind) {
    return Contains(::testing::Field(
        &AuditProblem::text, AllOf(HasSubstr("event " + std::to_string(id)), HasSubstr(kind))));
}
// Does any problem's text hold all of these?
::testing::Matcher<std::vector<AuditProblem>> reportsText(const std::vector<std::string>& words) {
    std::vector<::testing::Matcher<const std::string&>> all;
    for (const auto& w : words) all.push_back(HasSubstr(w));
    return Contains(::testing::Field(&AuditProblem::text, ::testing::AllOfArray(all)));
}
std::string texts(const std::vector<AuditProblem>& problems) {
    std::string out;
    for (const auto& p : problems) out += p.text + "\n";
    return out;
}

TEST(AuditCanonicalJson, SortedKeysNoWhitespace) {
    const json value = {{"zeta", 1}, {"alpha", {{"b", true}, {"a", nullptr}}}, {"mid", "x y"}};
    EXPECT_EQ(canonicalJson(value), R"({"alpha":{"a":null,"b":true},"mid":"x y","zeta":1})");
}

TEST(AuditCanonicalJson, InvalidUtf8IsReplacedNotThrown) {
    const json value = {{"name", std::string("bad\xff\xfe bytes")}};
    std::string out;
    EXPECT_NO_THROW(out = canonicalJson(value));
    json parsed;
    EXPECT_NO_THROW(parsed = json::parse(out));
    EXPECT_THAT(out, HasSubstr("\xEF\xBF\xBD"));  // U+FFFD
}

TEST_F(AuditLogTest, ChainOfManyEventsVerifies) {
    auto log = mirrored();
    recordMany(log, 300);
    const auto report = log.verify();
    EXPECT_TRUE(report.ok()) << texts(report.problems);
    EXPECT_EQ(report.checked, 300);
}

TEST_F(AuditLogTest, EmptyChainVerifies) {
    const auto report = mirrored().verify();
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.checked, 0);
}

TEST_F(AuditLogTest, RowsChainFromGenesis) {
    auto log = unmirrored();
    recordMany(log, 5);
    AuditFilter all;
    all.limit = 0;
    const auto rows = log.list(all);
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].prevHash, std::string(64, '0'));
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].id, static_cast<std::int64_t>(i + 1));
        if (i > 0) {
            EXPECT_EQ(rows[i].prevHash, rows[i - 1].hash);
        }
        auto object = rows[i].toJson();
        object.erase("hash");
        EXPECT_EQ(rows[i].hash, sha256Hex(canonicalJson(object)));
    }
}

TEST_F(AuditLogTest, TimestampIsIsoUtcWithMicroseconds) {
    auto log = unmirrored();
    log.record(event(1));
    const auto rows = log.list({});
    ASSERT_EQ(rows.size(), 1u);
    const auto ts = rows[0].toJson()["ts"].get<std::string>();
    EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
        << ts;
    EXPECT_NE(rows[0].tsMicros, 0);
}

TEST_F(AuditLogTest, InvalidUtf8IsStoredReplacedAndStillVerifies) {
    auto log = mirrored();
    AuditEvent e = event(1);
    e.actor = std::string("mal\xc3");
    e.details["term"] = std::string("x\xff");
    EXPECT_NO_THROW(log.record(e));
    EXPECT_TRUE(log.verify().ok());
    const auto lines = logLines();
    ASSERT_EQ(lines.size(), 1u);
    json parsed;
    EXPECT_NO_THROW(parsed = json::parse(lines[0]));
}

TEST_F(AuditLogTest, EditedDetailsAreDetected) {
    auto log = unmirrored();
    recordMany(log, 10);
    sql(R"(UPDATE audit_events SET details = '{"account":"mallory","n":5}' WHERE id = 5)");
    const auto report = log.verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports(5, "edited"));
    EXPECT_EQ(report.problems.size(), 1u) << texts(report.problems);
}

TEST_F(AuditLogTest, EditedTypeIsDetected) {
    auto log = unmirrored();
    recordMany(log, 10);
    sql("UPDATE audit_events SET type = 'admin.user.enable' WHERE id = 3");
    EXPECT_THAT(log.verify().problems, reports(3, "edited"));
}

TEST_F(AuditLogTest, EditedActorIsDetected) {
    auto log = unmirrored();
    recordMany(log, 10);
    sql("UPDATE audit_events SET actor = 'someone-else' WHERE id = 10");
    EXPECT_THAT(log.verify().problems, reports(10, "edited"));
}

TEST_F(AuditLogTest, EditedTimestampIsDetected) {
    auto log = unmirrored();
    recordMany(log, 4);
    sql("UPDATE audit_events SET ts_us = ts_us - 1000000 WHERE id = 2");
    EXPECT_THAT(log.verify().problems, reports(2, "edited"));
}

TEST_F(AuditLogTest, UnparseableDetailsAreDetected) {
    auto log = unmirrored();
    recordMany(log, 3);
    sql("UPDATE audit_events SET details = 'not json' WHERE id = 2");
    EXPECT_THAT(log.verify().problems, reports(2, "edited"));
    EXPECT_NO_THROW((void)log.list({}));
}

TEST_F(AuditLogTest, EditWithRecomputedHashBreaksTheNextLink) {
    // An attacker who recomputes the edited row's own hash still breaks the chain.
    auto log = unmirrored();
    recordMany(log, 6);
    AuditFilter all;
    all.limit = 0;
    auto row = log.list(all)[3];  // id 4
    row.event.details["account"] = "mallory";
    auto object = row.toJson();
    object.erase("hash");
    const auto forged = sha256Hex(canonicalJson(object));
    db_.prepare("UPDATE audit_events SET details = ?, hash = ? WHERE id = 4")
        .bind(1, canonicalJson(row.event.details))
        .bind(2, forged)
        .run();
    const auto report = log.verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports(5, "event 4"));
}

TEST_F(AuditLogTest, DeletedMiddleRowIsDetected) {
    auto log = unmirrored();
    recordMany(log, 10);
    sql("DELETE FROM audit_events WHERE id = 5");
    const auto report = log.verify();
    EXPECT_THAT(report.problems, reports(5, "deleted"));
    EXPECT_EQ(report.checked, 9);
}

TEST_F(AuditLogTest, DeletedFirstRowsAreDetected) {
    auto log = unmirrored();
    recordMany(log, 5);
    sql("DELETE FROM audit_events WHERE id <= 2");
    EXPECT_THAT(log.verify().problems, reportsText({"events 1-2", "deleted"}));
}

TEST_F(AuditLogTest, SwappedRowsAreReportedAsReordered) {
    auto log = unmirrored();
    recordMany(log, 8);
    // Swap every column but the id of rows 4 and 5.
    sql(R"(
        CREATE TEMP TABLE saved AS SELECT * FROM audit_events WHERE id IN (4, 5);
        UPDATE audit_events SET (ts_us, type, actor, source, details, prev_hash, hash) =
            (SELECT ts_us, type, actor, source, details, prev_hash, hash FROM saved
             WHERE saved.id = 9 - audit_events.id)
        WHERE id IN (4, 5);
        DROP TABLE saved;
    )");
    const auto report = log.verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports(4, "reordered"));
    EXPECT_THAT(report.problems, reports(5, "reordered"));
    for (const auto& p : report.problems) EXPECT_THAT(p.text, HasSubstr("reordered"));
}

TEST_F(AuditLogTest, DeletedLastRowIsUndetectableFromTheTableAlone) {
    // Documented limitation: the newest row has no successor to vouch for it.
    // Without the audit.log anchor, cutting the tail leaves a valid chain.
    auto log = unmirrored();
    recordMany(log, 10);
    sql("DELETE FROM audit_events WHERE id = 10");
    EXPECT_TRUE(log.verify().ok());
}

TEST_F(AuditLogTest, DeletedLastRowIsDetectedAgainstAuditLog) {
    auto log = mirrored();
    recordMany(log, 10);
    sql("DELETE FROM audit_events WHERE id = 10");
    EXPECT_THAT(log.verify().problems, reports(10, "deleted"));
}

TEST_F(AuditLogTest, ReplacedLastRowIsDetectedAgainstAuditLog) {
    // Delete the tail, then let a new event take its id: the chain is valid,
    // the mirror's line for that id is not the row's.
    auto log = mirrored();
    recordMany(log, 10);
    sql("DELETE FROM audit_events WHERE id = 10");
    log.record(event(99));
    EXPECT_THAT(log.verify().problems, reports(10, "audit.log"));
}

// Issue 12 finding 4: a line that does not parse is a problem (exit 1), never
// ignored; one that is no event's start is named as garbled.
TEST_F(AuditLogTest, GarbledLastLineInAuditLogIsReported) {
    auto log = mirrored();
    recordMany(log, 3);
    EXPECT_TRUE(log.verify().ok());  // positive control
    std::ofstream(store_.dir().auditLog(), std::ios::app) << R"({"id":4,"ha)";
    const auto report = log.verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reportsText({"audit.log line 4", "garbled"}));
}

TEST_F(AuditLogTest, SecretsAreRefused) {
    auto log = mirrored();
    for (const char* key : {"code", "secret", "password", "recovery_code", "otp", "private_key",
                            "totp_secret", "Password"}) {
        AuditEvent e = event(1, "auth.totp");
        e.details[key] = "123456";
        EXPECT_THROW(log.record(e), std::invalid_argument) << key;
    }
    AuditEvent nested = event(1, "auth.totp");
    nested.details["attempt"] = {{"tries", json::array({json{{"otp", "1"}}})}};
    EXPECT_THROW(log.record(nested), std::invalid_argument);
    AuditFilter all;
    all.limit = 0;
    EXPECT_THAT(log.list(all), IsEmpty());
    EXPECT_THAT(logLines(), IsEmpty());
}

TEST_F(AuditLogTest, KeysThatOnlyContainASecretWordAreAllowed) {
    auto log = unmirrored();
    AuditEvent e = event(1, "session.end");
    e.details["exit_code"] = 0;
    e.details["method"] = "totp";
    EXPECT_NO_THROW(log.record(e));
}

TEST_F(AuditLogTest, NullDetailsAreAnEmptyObject) {
    auto log = unmirrored();
    log.record(AuditEvent{"session.kill", "root", "", {}});
    const auto rows = log.list({});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].event.details, json::object());
    EXPECT_TRUE(log.verify().ok());
}

TEST_F(AuditLogTest, NonObjectDetailsAreRefused) {
    auto log = unmirrored();
    AuditEvent e = event(1);
    e.details = json::array({1, 2});
    EXPECT_THROW(log.record(e), std::invalid_argument);
}

TEST_F(AuditLogTest, AuditLogHasOneJsonLinePerEventMatchingTheDatabase) {
    auto log = mirrored();
    recordMany(log, 25);
    const auto lines = logLines();
    AuditFilter all;
    all.limit = 0;
    const auto rows = log.list(all);
    ASSERT_EQ(lines.size(), 25u);
    ASSERT_EQ(rows.size(), 25u);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto parsed = json::parse(lines[i]);
        EXPECT_EQ(parsed, rows[i].toJson());
        EXPECT_EQ(lines[i], canonicalJson(rows[i].toJson()));
        for (const char* key :
             {"id", "ts", "type", "actor", "source", "details", "prev_hash", "hash"}) {
            EXPECT_TRUE(parsed.contains(key)) << key;
        }
    }
    struct stat st {};
    ASSERT_EQ(::stat(store_.dir().auditLog().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, RolledBackEventLeavesNoLineAndNoRow) {
    auto log = mirrored();
    {
        Transaction tx(db_);
        log.record(tx, event(1));
        // no commit: rolled back
    }
    EXPECT_THAT(logLines(), IsEmpty());
    EXPECT_THAT(log.list({}), IsEmpty());
    log.record(event(2));
    EXPECT_EQ(logLines().size(), 1u);
    EXPECT_TRUE(log.verify().ok());
}

TEST_F(AuditLogTest, EventInTransactionIsMirroredOnlyAfterCommit) {
    auto log = mirrored();
    Transaction tx(db_);
    const auto first = log.record(tx, event(1));
    const auto second = log.record(tx, event(2));
    EXPECT_EQ(second, first + 1);
    EXPECT_THAT(logLines(), IsEmpty());
    tx.commit();
    ASSERT_EQ(logLines().size(), 2u);
    EXPECT_EQ(json::parse(logLines()[1])["id"], second);
}

TEST_F(AuditLogTest, SyslogMirrorNeverFailsTheEvent) {
    AuditLog log(db_, &store_.dir(), /*syslog=*/true);
    EXPECT_NO_THROW(log.record(event(1)));
    EXPECT_EQ(logLines().size(), 1u);
}

TEST_F(AuditLogTest, ListFilters) {
    auto log = unmirrored();
    AuditEvent login = event(1, "auth.totp");
    login.actor = "alice";
    log.record(login);  // 1
    AuditEvent start = event(2, "session.start");
    start.actor = "portcullisd";
    start.details = {{"account", "alice"}, {"target", "cosigner-1"}};
    log.record(start);  // 2
    AuditEvent end = start;
    end.type = "session.end";
    log.record(end);  // 3
    AuditEvent other = event(4, "session.start");
    other.actor = "portcullisd";
    other.details = {{"account", "bob"}};
    log.record(other);                       // 4
    log.record(event(5, "sessionX.start"));  // 5

    auto ids = [&](const AuditFilter& f) {
        std::vector<std::int64_t> out;
        for (const auto& r : log.list(f)) out.push_back(r.id);
        return out;
    };
    using V = std::vector<std::int64_t>;

    AuditFilter f;
    EXPECT_EQ(ids(f), (V{1, 2, 3, 4, 5}));
    f.type = "session.start";
    EXPECT_EQ(ids(f), (V{2, 4}));
    f.type = "session.*";
    EXPECT_EQ(ids(f), (V{2, 3, 4}));
    f.type = "session.";
    EXPECT_EQ(ids(f), (V{2, 3, 4}));
    f.type.reset();
    f.user = "alice";
    EXPECT_EQ(ids(f), (V{1, 2, 3}));
    f.user = "bob";
    EXPECT_EQ(ids(f), (V{4}));
    f.user.reset();
    f.afterId = 3;
    EXPECT_EQ(ids(f), (V{4, 5}));
    f.afterId.reset();
    f.limit = 2;  // the newest two, oldest first
    EXPECT_EQ(ids(f), (V{4, 5}));
    f.limit = 100;
    const auto now = std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
    f.since = now - Seconds{3600};
    EXPECT_EQ(ids(f).size(), 5u);
    f.since = now + Seconds{3600};
    EXPECT_THAT(ids(f), IsEmpty());
}

}  // namespace
}  // namespace portcullis::db
