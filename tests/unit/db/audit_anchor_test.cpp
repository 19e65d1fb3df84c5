// Issue 12 finding 4: the audit chain against its mirror (audit.log) in both
// directions and against anchors kept outside the store (SPEC §15). Each
// tampering case has the untouched store beside it as its control.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/encoding.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

::testing::Matcher<std::vector<AuditProblem>> reports(const std::string& a,
                                                      const std::string& b = "") {
    return Contains(Field(&AuditProblem::text, AllOf(HasSubstr(a), HasSubstr(b))));
}

std::string texts(const AuditVerifyReport& report) {
    std::string out;
    for (const auto& p : report.problems) out += p.text + "\n";
    return out;
}

class AuditAnchorTest : public ::testing::Test {
  protected:
    AuditLog log() { return AuditLog(db_, &store_.dir(), /*syslog=*/false); }

    void recordMany(int n) {
        auto audit = log();
        for (int i = 1; i <= n; ++i) {
            audit.record(
                AuditEvent{"admin.user.add", "root", "", {{"account", "u" + std::to_string(i)}}});
        }
    }
    std::vector<AuditRecord> rows() {
        AuditFilter all;
        all.limit = 0;
        return log().list(all);
    }
    fs::path auditLog() const { return store_.dir().auditLog(); }
    std::string readLog() const { return test::readFile(auditLog()); }
    void writeLog(const std::string& text) const {
        std::ofstream(auditLog(), std::ios::trunc | std::ios::binary) << text;
    }
    std::vector<std::string> logLines() const {
        std::vector<std::string> lines;
        std::ifstream in(auditLog());
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
    // A row with a valid hash chained after the last one: what an attacker
    // with write access to the store can add.
    void forgeRow(const std::string& actor) {
        const auto last = rows().back();
        AuditRecord forged;
        forged.id = last.id + 1;
        forged.tsMicros = last.tsMicros + 1;
        forged.event = {"admin.user.enable", actor, "", {{"account", "mallory"}}};
        forged.prevHash = last.hash;
        auto object = forged.toJson();
        object.erase("hash");
        forged.hash = sha256Hex(canonicalJson(object));
        db_.prepare(
               "INSERT INTO audit_events (id, ts_us, type, actor, source, details, prev_hash, "
               "hash) VALUES (?, ?, ?, ?, '', ?, ?, ?)")
            .bind(1, forged.id)
            .bind(2, forged.tsMicros)
            .bind(3, forged.event.type)
            .bind(4, forged.event.actor)
            .bind(5, canonicalJson(forged.event.details))
            .bind(6, forged.prevHash)
            .bind(7, forged.hash)
            .run();
    }

    test::TempStore store_;
    Database& db_ = store_.db();
};

TEST_F(AuditAnchorTest, HeadOfAnEmptyChainIsGenesisThenTheNewestEvent) {
    auto audit = log();
    EXPECT_EQ(audit.head().id, 0);
    EXPECT_EQ(audit.head().hash, std::string(64, '0'));
    recordMany(3);
    const auto last = rows().back();
    EXPECT_EQ(audit.head().id, 3);
    EXPECT_EQ(audit.head().hash, last.hash);
}

TEST_F(AuditAnchorTest, AnchorSyntax) {
    const std::string hash(64, 'a');
    auto a = parseAuditAnchor("17:" + hash);
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a->id, 17);
    EXPECT_EQ(a->hash, hash);
    EXPECT_EQ(parseAuditAnchor("17:" + std::string(64, 'A'))->hash, hash);  // case folded
    for (const std::string& bad : std::vector<std::string>{
             "", "17", ":" + hash, "0:" + hash, "-1:" + hash, "x:" + hash, "17:" + hash + "0",
             "17:" + std::string(63, 'a'), "17:" + std::string(64, 'g'), "17 :" + hash}) {
        EXPECT_FALSE(parseAuditAnchor(bad)) << bad;
    }
}

TEST_F(AuditAnchorTest, UntouchedStoreVerifiesWithItsAnchors) {
    recordMany(10);
    const auto all = rows();
    const auto report = log().verify({{4, all[3].hash}, {10, all[9].hash}});
    EXPECT_TRUE(report.ok()) << texts(report);
    EXPECT_EQ(report.checked, 10);
    EXPECT_EQ(report.mirrorFirst, 1);
    EXPECT_EQ(report.mirrorLast, 10);
}

// Deleting the last rows and cutting audit.log to match leaves a consistent
// store and mirror: only an anchor (a checkpoint the SIEM kept) catches it.
TEST_F(AuditAnchorTest, CutTailWithMatchingMirrorIsCaughtByAnAnchor) {
    recordMany(10);
    const auto all = rows();
    const AuditAnchor checkpoint{10, all[9].hash};
    db_.exec("DELETE FROM audit_events WHERE id > 7");
    auto lines = logLines();
    lines.resize(7);
    std::string cut;
    for (const auto& l : lines) cut += l + "\n";
    writeLog(cut);

    EXPECT_TRUE(log().verify().ok()) << "without an anchor the cut is invisible";
    const auto report = log().verify({checkpoint});
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports("anchor 10", "not in the store"));
    ASSERT_FALSE(report.problems.empty());
    EXPECT_EQ(report.problems[0].id, 10);
}

TEST_F(AuditAnchorTest, AnchorWithAnotherHashIsReported) {
    recordMany(5);
    const auto report = log().verify({{3, std::string(64, 'b')}});
    EXPECT_THAT(report.problems, reports("anchor 3", "the anchor says " + std::string(64, 'b')));
}

TEST_F(AuditAnchorTest, ForgedAppendedRowIsNotInTheMirror) {
    recordMany(5);
    EXPECT_TRUE(log().verify().ok());
    forgeRow("mallory");
    const auto report = log().verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports("event 6", "not in audit.log"));
    EXPECT_THAT(report.problems, reports("last event differs", "database ends at event 6"));
}

TEST_F(AuditAnchorTest, MissingAuditLogIsAProblem) {
    recordMany(5);
    fs::remove(auditLog());
    const auto report = log().verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports("audit.log is missing"));
    // An empty store without audit.log is fine (nothing to mirror).
    test::TempStore empty;
    EXPECT_TRUE(AuditLog(empty.db(), &empty.dir(), false).verify().ok());
}

TEST_F(AuditAnchorTest, ReHashedEditWithAuditLogDeletedIsCaught) {
    recordMany(5);
    // Edit row 3 and recompute every hash from there: the chain is valid again.
    auto all = rows();
    all[2].event.actor = "mallory";
    for (std::size_t i = 2; i < all.size(); ++i) {
        all[i].prevHash = all[i - 1].hash;
        auto object = all[i].toJson();
        object.erase("hash");
        all[i].hash = sha256Hex(canonicalJson(object));
        db_.prepare("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?")
            .bind(1, all[i].event.actor)
            .bind(2, all[i].prevHash)
            .bind(3, all[i].hash)
            .bind(4, all[i].id)
            .run();
    }
    // With audit.log in place every rewritten row differs from its line.
    EXPECT_THAT(log().verify().problems, reports("event 3", "differs from its line"));
    fs::remove(auditLog());
    EXPECT_THAT(log().verify().problems, reports("audit.log is missing"));
}

TEST_F(AuditAnchorTest, GarbledLinesAreReported) {
    recordMany(4);
    auto lines = logLines();
    lines[1] = "this is not json";
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    writeLog(text);
    const auto report = log().verify();
    EXPECT_THAT(report.problems, reports("audit.log line 2", "not an audit event"));
    EXPECT_THAT(report.problems, reports("event 2", "not in audit.log"));
}

TEST_F(AuditAnchorTest, AMirrorLineThatDiffersFromItsRowIsReported) {
    recordMany(4);
    auto lines = logLines();
    auto entry = json::parse(lines[2]);
    entry["actor"] = "someone-else";  // still valid JSON, same id and hash
    lines[2] = canonicalJson(entry);
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    writeLog(text);
    EXPECT_THAT(log().verify().problems, reports("event 3", "differs from its line in audit.log"));
}

// A write cut short by a crash or a full disk: the last line is the start of
// the newest event's line. It is its own named problem (still exit 1), not
// "garbled" and not "missing".
TEST_F(AuditAnchorTest, TornLastLineIsReportedAsIncomplete) {
    recordMany(3);
    const std::string whole = readLog();
    const auto lastStart = whole.rfind('\n', whole.size() - 2) + 1;
    writeLog(whole.substr(0, lastStart + 40));  // line 3 cut after 40 bytes
    const auto report = log().verify();
    EXPECT_FALSE(report.ok());
    EXPECT_THAT(report.problems, reports("event 3", "incomplete, a write cut short"));
    EXPECT_THAT(report.problems, Not(reports("garbled")));
    EXPECT_THAT(report.problems, Not(reports("not in audit.log")));
    EXPECT_THAT(report.problems, Not(reports("last event differs")));
}

TEST_F(AuditAnchorTest, TornLineFollowedByTheNextEventIsToldApart) {
    recordMany(2);
    // Event 2's line torn, then event 3 appended to it (the next writer).
    const std::string whole = readLog();
    const auto secondStart = whole.find('\n') + 1;
    writeLog(whole.substr(0, secondStart + 25));
    log().record(AuditEvent{"admin.user.add", "root", "", {{"account", "late"}}});
    const auto report = log().verify();
    EXPECT_THAT(report.problems, reports("event 2", "incomplete"));
    EXPECT_THAT(report.problems, Not(reports("event 3")));
    EXPECT_EQ(report.problems.size(), 1u) << texts(report);
}

TEST_F(AuditAnchorTest, RotatedCopiesAreReadAndCompressedOnesMayTakeOldEvents) {
    recordMany(3);
    fs::rename(auditLog(), store_.dir().root() / "audit.log.1");
    recordMany(2);  // a new audit.log with events 4-5
    auto report = log().verify();
    EXPECT_TRUE(report.ok()) << texts(report);
    EXPECT_EQ(report.mirrorFirst, 1);
    EXPECT_EQ(report.mirrorFiles.size(), 2u);
    // Compressed away: events 1-3 are no longer required to have a line.
    fs::rename(store_.dir().root() / "audit.log.1", store_.dir().root() / "audit.log.1.gz");
    report = log().verify();
    EXPECT_TRUE(report.ok()) << texts(report);
    EXPECT_EQ(report.mirrorFirst, 4);
    // But a row forged after the mirror's start still is.
    forgeRow("mallory");
    EXPECT_THAT(log().verify().problems, reports("event 6", "not in audit.log"));
}

TEST_F(AuditAnchorTest, AnEventTwiceInTheMirrorIsReported) {
    recordMany(3);
    const auto lines = logLines();
    std::ofstream(auditLog(), std::ios::app) << lines[1] << "\n";
    EXPECT_THAT(log().verify().problems, reports("event 2", "appears twice"));
}

}  // namespace
}  // namespace portcullis::db
