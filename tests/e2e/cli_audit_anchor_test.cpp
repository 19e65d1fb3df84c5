// Issue 12 finding 4: the audit chain did not catch truncation or forgery of
// its tail. The real `portcullis audit verify` on a real store, tampered with
// as someone with write access to the store would: each sequence exits 1
// naming the problem; the untouched store exits 0 (the control).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class CliAuditAnchorTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(cli({"init"}).exitCode, 0);
        for (const char* name : {"alice", "bob", "carol", "dave"}) {
            ASSERT_EQ(cli({"user", "add", name}).exitCode, 0);
        }
    }
    ProcessResult cli(std::vector<std::string> args) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        ProcessOptions options;
        options.env.emplace("SUDO_USER", "ops-erin");
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess(args, options);
    }
    json head() {
        const auto r = cli({"audit", "head", "--json"});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return json::parse(r.out, nullptr, false);
    }
    std::string anchorOf(const json& h) {
        return std::to_string(h["id"].get<std::int64_t>()) + ":" + h["hash"].get<std::string>();
    }
    db::Database open() { return db::Database::open(db::StateDir(state_)).value(); }
    fs::path auditLog() const { return state_ / "audit.log"; }
    std::vector<std::string> logLines() const {
        std::vector<std::string> lines;
        std::ifstream in(auditLog());
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
    void writeLines(const std::vector<std::string>& lines) const {
        std::string text;
        for (const auto& l : lines) text += l + "\n";
        writeFile(auditLog(), text);
    }
    // The row as its hash is computed (every column but the hash).
    static std::string hashOf(const db::AuditRecord& r) {
        auto object = r.toJson();
        object.erase("hash");
        return sha256Hex(db::canonicalJson(object));
    }
    std::vector<db::AuditRecord> rows(db::Database& database) {
        db::AuditLog audit(database, nullptr, false);
        db::AuditFilter all;
        all.limit = 0;
        return audit.list(all);
    }
    // Expects exit 1 and a problem holding `what`, in text and in --json.
    void expectProblem(const std::vector<std::string>& extra, const std::string& what) {
        std::vector<std::string> args{"audit", "verify"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 1) << describe(r);
        EXPECT_THAT(r.out, HasSubstr(what)) << describe(r);
        EXPECT_THAT(r.err, HasSubstr("audit chain broken"));
        args.push_back("--json");
        const auto j = cli(args);
        EXPECT_EQ(j.exitCode, 1);
        const json report = json::parse(j.out, nullptr, false);
        ASSERT_TRUE(report.is_object()) << j.out;
        EXPECT_EQ(report["ok"], false);
        bool found = false;
        for (const auto& p : report["problems"]) {
            EXPECT_TRUE(p.contains("id") && p.contains("problem")) << p.dump();
            if (p["problem"].get<std::string>().find(what) != std::string::npos) found = true;
        }
        EXPECT_TRUE(found) << j.out;
    }

    TempDir tmp_{"cli-audit-anchor"};
    fs::path state_ = tmp_.path() / "state";
};

TEST_F(CliAuditAnchorTest, UntouchedStoreVerifiesAndHeadNamesTheNewestEvent) {
    const json h = head();
    EXPECT_EQ(h["id"], 5);  // admin.init + 4 accounts
    EXPECT_THAT(h["hash"].get<std::string>(), MatchesRegex("[0-9a-f]{64}"));
    const auto text = cli({"audit", "head"});
    EXPECT_EQ(text.out, "5 " + h["hash"].get<std::string>() + "\n");

    auto r = cli({"audit", "verify", "--anchor", anchorOf(h)});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("audit.log agrees (events 1-5)"));
    const json report = json::parse(cli({"audit", "verify", "--json"}).out);
    EXPECT_EQ(report["ok"], true);
    EXPECT_EQ(report["checked"], 5);
    EXPECT_EQ(report["problems"], json::array());
    EXPECT_EQ(report["mirror"]["last_id"], 5);

    // A bad anchor is a usage error, checked before anything else.
    for (const std::string& bad :
         std::vector<std::string>{"5", "x:" + h["hash"].get<std::string>(), "5:abc"}) {
        r = cli({"audit", "verify", "--anchor", bad});
        EXPECT_EQ(r.exitCode, 2) << bad << ": " << describe(r);
    }
}

TEST_F(CliAuditAnchorTest, ForgedAppendedRowIsCaught) {
    {
        auto database = open();
        const auto last = rows(database).back();
        db::AuditRecord forged;
        forged.id = last.id + 1;
        forged.tsMicros = last.tsMicros + 1000;
        forged.event = {"admin.grant.add", "ops-erin", "", {{"account", "mallory"}}};
        forged.prevHash = last.hash;
        forged.hash = hashOf(forged);
        database
            .prepare(
                "INSERT INTO audit_events (id, ts_us, type, actor, source, details, prev_hash, "
                "hash) VALUES (?, ?, ?, ?, '', ?, ?, ?)")
            .bind(1, forged.id)
            .bind(2, forged.tsMicros)
            .bind(3, forged.event.type)
            .bind(4, forged.event.actor)
            .bind(5, db::canonicalJson(forged.event.details))
            .bind(6, forged.prevHash)
            .bind(7, forged.hash)
            .run();
    }
    expectProblem({}, "event 6: in the database but not in audit.log");
    expectProblem({}, "the database ends at event 6, audit.log at event 5");
}

TEST_F(CliAuditAnchorTest, CutTailWithAuditLogCutToMatchIsCaughtByAnAnchor) {
    const json checkpoint = head();  // what the SIEM received as audit.checkpoint
    {
        auto database = open();
        database.exec("DELETE FROM audit_events WHERE id > 3");
    }
    auto lines = logLines();
    ASSERT_EQ(lines.size(), 5u);
    lines.resize(3);
    writeLines(lines);
    // Store and mirror agree: without the anchor nothing shows.
    EXPECT_EQ(cli({"audit", "verify"}).exitCode, 0);
    expectProblem({"--anchor", anchorOf(checkpoint)}, "anchor 5: event 5 is not in the store");
}

TEST_F(CliAuditAnchorTest, ReHashedEditWithAuditLogDeletedIsCaught) {
    {
        auto database = open();
        auto all = rows(database);
        all[1].event.details["account"] = "mallory";  // event 2: user add alice -> mallory
        for (std::size_t i = 1; i < all.size(); ++i) {
            all[i].prevHash = all[i - 1].hash;
            all[i].hash = hashOf(all[i]);
            database
                .prepare(
                    "UPDATE audit_events SET details = ?, prev_hash = ?, hash = ? WHERE id = ?")
                .bind(1, db::canonicalJson(all[i].event.details))
                .bind(2, all[i].prevHash)
                .bind(3, all[i].hash)
                .bind(4, all[i].id)
                .run();
        }
    }
    expectProblem({}, "event 2: differs from its line in audit.log");
    fs::remove(auditLog());
    expectProblem({}, "audit.log is missing");
}

TEST_F(CliAuditAnchorTest, GarbledAuditLogIsCaught) {
    auto lines = logLines();
    lines[2] = "\x01garbage that is not JSON";
    writeLines(lines);
    expectProblem({}, "audit.log line 3: not an audit event");
    expectProblem({}, "event 3: in the database but not in audit.log");
}

TEST_F(CliAuditAnchorTest, UnreadableAuditLogIsCaught) {
    if (::geteuid() == 0) {
        // root reads through modes: a directory in its place cannot be read as lines.
        fs::remove(auditLog());
        fs::create_directory(auditLog());
    } else {
        fs::permissions(auditLog(), fs::perms::none);
    }
    expectProblem({}, "audit.log cannot be read");
}

}  // namespace
}  // namespace portcullis::test
