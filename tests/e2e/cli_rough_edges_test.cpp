// Issue 13, the CLI's rough edges, through the real `portcullis` on real
// stores: --version; audit list --type refuses unknown types and its help
// lists them; session ids by a unique prefix (as git); audit verify --json
// and session verify --json report problems in one shape; a bad --host-key
// is a usage error (exit 2); grants to targets that do not exist (a plain
// name that is no target and an invalid glob: exit 2; a glob that matches
// nothing now: a warning, exit 0). Each refusal has its positive control.
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/state_dir.hpp"
#include "recording/file_digest.hpp"
#include "tests/e2e/support/cli_runner.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

class CliRoughEdgesTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(cli({"init"}).exitCode, 0); }
    ProcessResult cli(std::vector<std::string> args) {
        return runCli(state_, std::move(args), "ops-frank");
    }
    json cliJson(std::vector<std::string> args, int expectedExit = 0) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, expectedExit) << describe(r);
        return json::parse(r.out, nullptr, false);
    }
    std::string hostKeyLine() {
        const fs::path key = tmp_.path() / ("host" + std::to_string(++keys_));
        EXPECT_EQ(runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()})
                      .exitCode,
                  0);
        const std::string line = readFile(key.string() + ".pub");
        return line.substr(0, line.rfind(' '));
    }
    void addTarget(const std::string& name) {
        const auto r =
            cli({"target", "add", name, "--host", "127.0.0.1", "--host-key", hostKeyLine()});
        ASSERT_EQ(r.exitCode, 0) << describe(r);
    }
    db::Database store() {
        auto opened = db::Database::open(db::StateDir(state_));
        EXPECT_TRUE(opened) << opened.error();
        return std::move(opened).value();
    }
    // An ended session with one sealed recording.
    void addSession(const std::string& id) {
        auto db = store();
        const TimePoint started = systemNow() - Seconds(600);
        db::Sessions sessions(db);
        sessions.insert({.id = id,
                         .account = "alice",
                         .login = "root",
                         .target = "cosigner-1",
                         .grantId = std::nullopt,
                         .source = "192.0.2.7",
                         .gateway = "gw:1",
                         .startedAt = started});
        ASSERT_TRUE(sessions.finish(id, {.status = "closed",
                                         .reason = "client closed",
                                         .bytesIn = 0,
                                         .bytesOut = 0,
                                         .endedAt = started + Seconds(9)}));
        const std::string relative = "recordings/" + id + ".rec";
        writeFile(state_ / relative, "{\"version\":1}\n", 0600);
        db::RecordingRow row;
        row.sessionId = id;
        row.kind = "exec";
        row.format = "rec";
        row.path = relative;
        row.startedAt = started;
        db::Recordings recordings(db);
        const auto rowId = recordings.add(row);
        const auto digest = recording::digestFile(state_ / relative);
        ASSERT_TRUE(digest);
        ASSERT_TRUE(recordings.seal(rowId, static_cast<std::int64_t>(digest->size), digest->sha256,
                                    started + Seconds(9)));
    }

    TempDir tmp_{"cli-rough-edges"};
    fs::path state_ = tmp_.path() / "state";
    int keys_ = 0;
};

TEST_F(CliRoughEdgesTest, VersionIsPrinted) {
    const auto r = runProcess({PORTCULLIS_CLI, "--version"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(r.out.starts_with("portcullis ")) << r.out;
    EXPECT_THAT(r.out, testing::MatchesRegex("portcullis [0-9]+\\.[0-9]+\\.[0-9]+\n"));
    // Control: an unknown global flag is still a usage error.
    EXPECT_EQ(runProcess({PORTCULLIS_CLI, "--versions"}).exitCode, 2);
}

// Issue 13: `audit list --type sesion.start` listed nothing and exit 0.
TEST_F(CliRoughEdgesTest, AuditTypeMustBeKnown) {
    auto r = cli({"audit", "list", "--type", "sesion.start"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no event type sesion.start"));
    r = cli({"audit", "list", "--type", "session.strat"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("session.start"));  // the family's types are named
    EXPECT_EQ(cli({"audit", "tail", "--type", "nonsense"}).exitCode, 2);
    EXPECT_EQ(cli({"audit", "list", "--type", "nothing.*"}).exitCode, 2);

    // Controls: known types and families, with or without events yet.
    EXPECT_EQ(cliJson({"audit", "list", "--type", "admin.init"}).size(), 1u);
    EXPECT_EQ(cliJson({"audit", "list", "--type", "admin."}).size(), 1u);
    EXPECT_EQ(cliJson({"audit", "list", "--type", "session.*"}).size(), 0u);
    EXPECT_EQ(cliJson({"audit", "list", "--type", "pam.auth"}).size(), 0u);
    // A type this version does not know but the store holds (a newer writer) is listed.
    {
        auto db = store();
        db::AuditLog(db, nullptr, false).record(db::AuditEvent{"future.thing", "x", "", {}});
    }
    EXPECT_EQ(cliJson({"audit", "list", "--type", "future.thing"}).size(), 1u);

    // The help lists the types.
    r = cli({"audit", "list", "--help"});
    EXPECT_EQ(r.exitCode, 0);
    for (const char* type : {"session.start", "auth.totp", "pam.auth", "admin.grant.add",
                             "sftp.open", "recording.checkpoint"}) {
        EXPECT_THAT(r.out, HasSubstr(std::string("  ") + type + " ")) << type;
    }
}

// Issue 13: session ids can be given by a unique prefix, like git.
TEST_F(CliRoughEdgesTest, SessionIdsByUniquePrefix) {
    addSession("5e55aa0000000000000000000000aa01");
    addSession("5e55aa0000000000000000000000aa02");
    addSession("5e55bb0000000000000000000000bb01");
    // Unique: show, verify and export take it.
    auto out = cliJson({"session", "show", "5e55bb"});
    EXPECT_EQ(out["id"], "5e55bb0000000000000000000000bb01");
    out = cliJson({"session", "verify", "5e55bb00"});
    EXPECT_EQ(out["ok"], true);
    EXPECT_EQ(out["recordings"][0]["session_id"], "5e55bb0000000000000000000000bb01");
    auto r = cli({"session", "export", "5e55bb", "--format", "raw", "--stream", "o"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    // The whole id still works.
    EXPECT_EQ(cliJson({"session", "show", "5e55aa0000000000000000000000aa02"})["id"],
              "5e55aa0000000000000000000000aa02");
    // Ambiguous: exit 2, naming the candidates.
    r = cli({"session", "show", "5e55aa"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("ambiguous"));
    EXPECT_THAT(r.err, HasSubstr("5e55aa0000000000000000000000aa01"));
    EXPECT_THAT(r.err, HasSubstr("5e55aa0000000000000000000000aa02"));
    EXPECT_EQ(cli({"session", "play", "5e55a"}).exitCode, 2);
    // Unknown: exit 1; too short to be a prefix: exit 1.
    r = cli({"session", "show", "5e55cc"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no session 5e55cc"));
    EXPECT_EQ(cli({"session", "show", "5e5"}).exitCode, 1);
    // LIKE wildcards are not wildcards.
    EXPECT_EQ(cli({"session", "show", "5e55%"}).exitCode, 1);
    EXPECT_EQ(cli({"session", "show", "5e5_bb"}).exitCode, 1);
}

// Issue 13: both verify commands report problems as {.., "problem": TEXT}
// under "problems", with "ok" and "checked" beside them.
TEST_F(CliRoughEdgesTest, VerifyCommandsShareTheProblemShape) {
    const std::string id = "5e55dd0000000000000000000000dd01";
    addSession(id);
    // Controls: nothing wrong, no problems, exit 0.
    auto audit = cliJson({"audit", "verify"});
    auto session = cliJson({"session", "verify", id});
    for (const json* report : {&audit, &session}) {
        EXPECT_EQ((*report)["ok"], true) << report->dump();
        EXPECT_TRUE((*report)["checked"].is_number()) << report->dump();
        EXPECT_EQ((*report)["problems"], json::array()) << report->dump();
    }
    // One problem each: an edited audit row, an edited recording.
    {
        auto db = store();
        db.exec("UPDATE audit_events SET actor = 'mallory' WHERE id = 1");
    }
    writeFile(state_ / ("recordings/" + id + ".rec"), "{\"version\":2}\n", 0600);
    audit = cliJson({"audit", "verify"}, 1);
    session = cliJson({"session", "verify", id}, 1);
    for (const json* report : {&audit, &session}) {
        EXPECT_EQ((*report)["ok"], false) << report->dump();
        ASSERT_FALSE((*report)["problems"].empty()) << report->dump();
        for (const auto& p : (*report)["problems"]) {
            ASSERT_TRUE(p.is_object()) << p.dump();
            EXPECT_TRUE(p["problem"].is_string()) << p.dump();
        }
    }
    EXPECT_TRUE(audit["problems"][0].contains("id"));
    EXPECT_EQ(session["problems"][0]["session_id"], id);
}

// Issue 13: a malformed --host-key was exit 1 while every other bad flag is 2.
TEST_F(CliRoughEdgesTest, BadHostKeyIsAUsageError) {
    auto r = cli({"target", "add", "t1", "--host", "h", "--host-key", "ssh-ed25519 AAAAbad"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("--host-key"));
    EXPECT_EQ(cli({"target", "add", "t1", "--host", "h", "--host-key", "garbage"}).exitCode, 2);
    EXPECT_EQ(cliJson({"target", "list"}).size(), 0u);
    // Control: a valid key is pinned.
    r = cli({"target", "add", "t1", "--host", "h", "--host-key", hostKeyLine()});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
}

// Issue 13: grants to names that do not exist were accepted silently.
TEST_F(CliRoughEdgesTest, GrantsMustNameTargetsThatExist) {
    addTarget("cosigner-1");
    addTarget("cosigner-2");
    ASSERT_EQ(cli({"user", "add", "alice"}).exitCode, 0);
    // A plain name that is no target (a typo): exit 2, nothing granted.
    auto r = cli({"grant", "alice", "cosinger-1"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no target named cosinger-1"));
    // An invalid glob: exit 2.
    r = cli({"grant", "alice", "cos[igner"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("not closed"));
    EXPECT_EQ(cli({"grant", "alice", "cosigner-]"}).exitCode, 2);
    EXPECT_EQ(cliJson({"policy", "list"}).size(), 0u);
    // A glob that matches nothing now: granted, with a warning.
    r = cli({"grant", "alice", "vault-*"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("warning: vault-* matches no target now"));
    // Controls: an existing name and a matching glob, without a warning.
    r = cli({"grant", "alice", "cosigner-1"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.err, Not(HasSubstr("warning")));
    r = cli({"grant", "alice", "cosigner-[12]", "--json"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.err, Not(HasSubstr("warning")));
    EXPECT_EQ(json::parse(r.out)["matching_targets"], json({"cosigner-1", "cosigner-2"}));
    EXPECT_EQ(cliJson({"policy", "list"}).size(), 3u);
}

}  // namespace
}  // namespace portcullis::test
