// Issue 13, "review that never lies": a tampered recording played, exported
// and searched with exit 0 and no warning. Now `play`, `export` and `search`
// check each recording against its seal before reading it, warn on stderr
// for every one that does not match (play before it starts), and `export`
// and `search` exit 1 after finishing. The real `portcullis` on a store
// whose sessions and recordings are written here as the gateway writes them;
// each tampered case has the untouched control beside it.
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "db/database.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/state_dir.hpp"
#include "recording/cast_writer.hpp"
#include "recording/file_digest.hpp"
#include "recording/recording_meta.hpp"
#include "tests/e2e/support/cli_runner.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kTampered = "does not match its seal";

class CliReviewSealTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(cli({"init"}).exitCode, 0);
        auto opened = db::Database::open(db::StateDir(state_));
        ASSERT_TRUE(opened) << opened.error();
        db_.emplace(std::move(opened).value());
    }
    ProcessResult cli(std::vector<std::string> args) {
        return runCli(state_, std::move(args), "ops-dana", std::chrono::seconds(20));
    }

    // An ended shell session whose recording prints `secret-word` and is sealed.
    fs::path addSession(const std::string& id, const std::string& account) {
        const TimePoint started = systemNow() - Seconds(3600);
        db::Sessions(*db_).insert({.id = id,
                                   .account = account,
                                   .login = "root",
                                   .target = "cosigner-1",
                                   .grantId = std::nullopt,
                                   .source = "192.0.2.7",
                                   .gateway = "gw:1",
                                   .startedAt = started});
        EXPECT_TRUE(db::Sessions(*db_).finish(id, {.status = "closed",
                                                   .reason = "client closed",
                                                   .bytesIn = 0,
                                                   .bytesOut = 0,
                                                   .endedAt = started + Seconds(9)}));
        recording::RecordingMeta meta;
        meta.sessionId = id;
        meta.account = account;
        meta.login = "root";
        meta.target = "cosigner-1";
        meta.kind = "shell";
        meta.term = "xterm";
        meta.startedAtUnix = started.time_since_epoch().count();
        std::string cast = recording::castHeaderLine(meta);
        recording::CastStreamEncoder out('o');
        cast += out.encode(100000, "$ cat notes\r\n");
        cast += out.encode(200000, "the secret-word is here\r\n$ ");
        const std::string relative = "recordings/" + id + ".cast";
        writeFile(state_ / relative, cast);
        db::RecordingRow row;
        row.sessionId = id;
        row.kind = "shell";
        row.format = "cast";
        row.path = relative;
        row.startedAt = started;
        db::Recordings recordings(*db_);
        const auto rowId = recordings.add(row);
        const auto digest = recording::digestFile(state_ / relative);
        EXPECT_TRUE(digest);
        EXPECT_TRUE(recordings.seal(rowId, static_cast<std::int64_t>(digest->size), digest->sha256,
                                    started + Seconds(9)));
        return state_ / relative;
    }
    // What an intruder does: the same size, other words on the screen.
    static void tamper(const fs::path& file) {
        std::string text = readFile(file);
        const auto at = text.find("secret-word");
        ASSERT_NE(at, std::string::npos);
        text.replace(at, 11, "nothing-bad");
        writeFile(file, text);
    }

    TempDir tmp_{"cli-review-seal"};
    fs::path state_ = tmp_.path() / "state";
    std::optional<db::Database> db_;
};

const std::string kAlice = "5ea1000000000000000000000000a001";
const std::string kBob = "5ea1000000000000000000000000b001";

TEST_F(CliReviewSealTest, ExportWarnsAndExitsOneForATamperedRecording) {
    const fs::path file = addSession(kAlice, "alice");
    // Control: an intact recording exports quietly.
    auto r = cli({"session", "export", kAlice, "--format", "text"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("the secret-word is here"));
    EXPECT_THAT(r.err, Not(HasSubstr("warning")));

    tamper(file);
    r = cli({"session", "export", kAlice, "--format", "text"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("the nothing-bad is here"));  // exported all the same
    EXPECT_THAT(r.err, HasSubstr("warning: session " + kAlice + " channel 1: the recording " +
                                 kTampered + " (modified"));
    EXPECT_THAT(r.err, HasSubstr("portcullis session verify " + kAlice));
    for (const char* format : {"cast", "raw"}) {
        std::vector<std::string> args = {"session", "export", kAlice, "--format", format};
        if (std::string(format) == "raw") args.insert(args.end(), {"--stream", "o"});
        r = cli(args);
        EXPECT_EQ(r.exitCode, 1) << format << describe(r);
        EXPECT_THAT(r.err, HasSubstr(kTampered)) << format;
    }
    const fs::path out = tmp_.path() / "export.cast";
    r = cli({"session", "export", kAlice, "-o", out.string(), "--json"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(json::parse(r.out, nullptr, false).value("seal", ""), "modified");
    EXPECT_TRUE(fs::exists(out));
}

TEST_F(CliReviewSealTest, PlayWarnsBeforeItStarts) {
    const fs::path file = addSession(kAlice, "alice");
    // stdout and stderr into one pipe, to see what comes first.
    const auto play = [&] {
        ProcessOptions options;
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess({"/bin/sh", "-c",
                           std::string("exec \"$0\" --state-dir \"$1\" session play \"$2\" "
                                       "--speed 100 2>&1"),
                           PORTCULLIS_CLI, state_.string(), kAlice},
                          options);
    };
    auto r = play();
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, Not(HasSubstr("warning")));  // control

    tamper(file);
    r = play();
    EXPECT_EQ(r.exitCode, 0) << describe(r);  // play warns; it is not a verdict
    const auto warning = r.out.find(kTampered);
    const auto firstOutput = r.out.find("$ cat notes");
    ASSERT_NE(warning, std::string::npos) << describe(r);
    ASSERT_NE(firstOutput, std::string::npos) << describe(r);
    EXPECT_LT(warning, firstOutput) << "the warning comes before the recording plays";
}

TEST_F(CliReviewSealTest, SearchWarnsForEveryTamperedRecordingAndExitsOne) {
    const fs::path alice = addSession(kAlice, "alice");
    addSession(kBob, "bob");
    // Control: both intact, both found, exit 0, no warning.
    auto r = cli({"session", "search", "is here"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.err, Not(HasSubstr("warning")));

    tamper(alice);
    r = cli({"session", "search", "is here"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(kAlice));  // searched and shown all the same
    EXPECT_THAT(r.out, HasSubstr(kBob));
    EXPECT_THAT(r.err, HasSubstr("warning: session " + kAlice + " channel 1"));
    EXPECT_THAT(r.err, Not(HasSubstr("warning: session " + kBob)));
    EXPECT_THAT(r.err, HasSubstr("1 of the 2 recordings searched do not match their seal"));
    const auto matches = json::parse(cli({"session", "search", "is here", "--json"}).out);
    ASSERT_EQ(matches.size(), 2u);
    EXPECT_EQ(matches[0]["seal"], "modified");
    EXPECT_EQ(matches[1]["seal"], "intact");

    // A recording whose file is gone counts too.
    fs::remove(alice);
    r = cli({"session", "search", "is here"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("missing"));
    EXPECT_THAT(r.out, HasSubstr(kBob));
    // Searching only the intact one: exit 0 again.
    EXPECT_EQ(cli({"session", "search", "is here", "--user", "bob"}).exitCode, 0);
}

}  // namespace
}  // namespace portcullis::test
