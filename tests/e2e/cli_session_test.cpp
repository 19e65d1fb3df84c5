// The review commands of the admin CLI (SPEC §4, §6): session show, play,
// export, search, verify and prune, run as the real `portcullis` against a
// temporary state directory whose sessions and recordings are written here
// through the store and the recording library, as the gateway writes them.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
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
#include "recording/cast_writer.hpp"
#include "recording/file_digest.hpp"
#include "recording/rec_format.hpp"
#include "recording/recording_meta.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kOperator = "ops-dana";

std::string allByteValues() {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    return bytes;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// Checks asciicast v2 the way a player reads it: a header object with
// version 2, then [time, code, text] arrays with non-decreasing times.
// Returns the concatenated data of the events with this code.
std::string castEvents(const std::string& cast, const std::string& code) {
    const auto all = lines(cast);
    EXPECT_FALSE(all.empty());
    if (all.empty()) return "";
    const json header = json::parse(all[0], nullptr, false);
    EXPECT_TRUE(header.is_object()) << all[0];
    EXPECT_EQ(header.value("version", 0), 2);
    EXPECT_TRUE(header.contains("width") && header.contains("height"));
    std::string data;
    double last = 0;
    for (std::size_t i = 1; i < all.size(); ++i) {
        const json event = json::parse(all[i], nullptr, false);
        EXPECT_TRUE(event.is_array() && event.size() == 3) << all[i];
        if (!event.is_array() || event.size() != 3) continue;
        EXPECT_GE(event[0].get<double>(), last) << all[i];
        last = event[0].get<double>();
        if (event[1] == code) data += event[2].get<std::string>();
    }
    return data;
}

class CliSessionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto r = cli({"init"});
        ASSERT_EQ(r.exitCode, 0) << describe(r);
        auto opened = db::Database::open(db::StateDir(state_));
        ASSERT_TRUE(opened) << opened.error();
        db_.emplace(std::move(opened).value());
    }

    ProcessResult cli(std::vector<std::string> args, ProcessOptions options = {}) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        options.env.emplace("SUDO_USER", kOperator);
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        options.timeout = std::chrono::milliseconds(10000);
        return runProcess(args, options);
    }
    json cliJson(std::vector<std::string> args, int expectedExit = 0) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, expectedExit) << describe(r);
        return json::parse(r.out, nullptr, false);
    }

    // A session row: ended `endedAgo` ago, or still active when not given.
    std::string addSession(const std::string& id, const std::string& account, TimePoint started,
                           std::optional<TimePoint> ended = std::nullopt,
                           std::optional<std::int64_t> grantId = std::nullopt) {
        db::Sessions sessions(*db_);
        sessions.insert({.id = id,
                         .account = account,
                         .login = "root",
                         .target = "cosigner-1",
                         .grantId = grantId,
                         .source = "192.0.2.7",
                         .gateway = "gw:1",
                         .startedAt = started});
        if (ended) {
            EXPECT_TRUE(sessions.finish(id, {.status = "closed",
                                             .reason = "client closed",
                                             .bytesIn = 42,
                                             .bytesOut = 4242,
                                             .endedAt = *ended}));
        }
        return id;
    }

    recording::RecordingMeta meta(const std::string& session, int channel, const std::string& kind,
                                  TimePoint started) {
        recording::RecordingMeta m;
        m.sessionId = session;
        m.channel = channel;
        m.account = "alice";
        m.login = "root";
        m.target = "cosigner-1";
        m.source = "192.0.2.7";
        m.kind = kind;
        m.term = kind == "shell" ? "xterm-256color" : "";
        m.startedAtUnix = started.time_since_epoch().count();
        m.title = "alice@cosigner-1 as root";
        if (kind == "exec") m.command = "backup.sh";
        return m;
    }

    // Writes a recording file and its row; sealed with its real digest unless told.
    fs::path addRecording(const std::string& session, int channel, const std::string& format,
                          const std::string& content, TimePoint started, bool seal = true) {
        const std::string name = channel == 1 ? session : session + "-" + std::to_string(channel);
        const std::string relative = "recordings/" + name + "." + format;
        const fs::path file = state_ / relative;
        writeFile(file, content);
        db::Recordings recordings(*db_);
        db::RecordingRow row;
        row.sessionId = session;
        row.channel = channel;
        row.kind = format == "cast" ? "shell" : "exec";
        row.format = format;
        row.path = relative;
        row.startedAt = started;
        const auto id = recordings.add(row);
        if (seal) {
            const auto digest = recording::digestFile(file);
            EXPECT_TRUE(digest) << digest.error();
            EXPECT_TRUE(recordings.seal(id, static_cast<std::int64_t>(digest->size), digest->sha256,
                                        started + Seconds(5)));
        }
        return file;
    }

    // A shell session: a coloured prompt, "echo hello" typed in two reads
    // with a correction, its output, a resize, two sequences a terminal
    // would answer, a long pause, then exit.
    std::string shellCast(const std::string& session, TimePoint started) {
        std::string cast = recording::castHeaderLine(meta(session, 1, "shell", started));
        recording::CastStreamEncoder out('o'), in('i');
        cast += out.encode(100000, "\x1b[1;32m$\x1b[0m ");
        cast += in.encode(500000, "echo hx\x7f");
        cast += out.encode(510000, "echo h");
        cast += in.encode(600000, "ello\r");
        cast += out.encode(700000, "ello\r\n\x1b[1;31mhello\x1b[0m\r\n$ ");
        cast += recording::castResizeLine(800000, 100, 30);
        cast += out.encode(900000, "\x1b[6n\x1b]52;c;c2VjcmV0\x07");
        cast += in.encode(60900000, "exit\r");
        cast += out.encode(61000000, "exit\r\n");
        return cast;
    }

    // An exec without pty: binary stdin (an upload), binary stdout, stderr.
    std::string execRec(const std::string& session, int channel, TimePoint started) {
        std::string rec = recording::recHeaderLine(meta(session, channel, "exec", started));
        rec += recording::recFrame(1000, 'i', allByteValues());
        rec += recording::recFrame(2000, 'o', allByteValues());
        rec += recording::recFrame(3000, 'e', "warning: disk nearly full\n");
        rec += recording::recFrame(4000, 'o', "backup done\n");
        return rec;
    }

    // One ended session with a shell (.cast, channel 1) and an exec (.rec, channel 2).
    std::string addReviewedSession(const std::string& id = "5e551011aaaa0000bbbb0000cccc0001") {
        addSession(id, "alice", started_, started_ + Seconds(61));
        castFile_ = addRecording(id, 1, "cast", shellCast(id, started_), started_);
        recFile_ = addRecording(id, 2, "rec", execRec(id, 2, started_), started_);
        return id;
    }

    TempDir tmp_{"cli-session-test"};
    fs::path state_ = tmp_.path() / "state";
    std::optional<db::Database> db_;
    TimePoint started_ = systemNow() - Seconds(7200);
    fs::path castFile_;
    fs::path recFile_;
};

// ---- show -------------------------------------------------------------------

TEST_F(CliSessionTest, ShowListsRecordingsWithTheirHashStatusAndTheGrant) {
    ASSERT_EQ(cli({"user", "add", "alice"}).exitCode, 0);
    const auto grant = cli({"grant", "alice", "cosigner-*", "--reason", "CHG-4242 disk check"});
    ASSERT_EQ(grant.exitCode, 0) << describe(grant);
    const std::string id = "5e551011aaaa0000bbbb0000cccc0002";
    addSession(id, "alice", started_, started_ + Seconds(61), 1);
    addRecording(id, 1, "cast", shellCast(id, started_), started_);
    addRecording(id, 2, "rec", execRec(id, 2, started_), started_);

    auto r = cli({"session", "show", id});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("CHG-4242 disk check"));
    EXPECT_THAT(r.out, HasSubstr("client closed"));
    EXPECT_THAT(r.out, HasSubstr("recordings/" + id + ".cast"));
    EXPECT_THAT(r.out, HasSubstr("recordings/" + id + "-2.rec"));
    EXPECT_THAT(r.out, HasSubstr("intact"));

    const json out = cliJson({"session", "show", id});
    EXPECT_EQ(out["grant"]["id"], 1);
    EXPECT_EQ(out["grant"]["reason"], "CHG-4242 disk check");
    EXPECT_EQ(out["bytes_out"], 4242);
    ASSERT_EQ(out["recordings"].size(), 2u);
    EXPECT_EQ(out["recordings"][0]["channel"], 1);
    EXPECT_EQ(out["recordings"][0]["format"], "cast");
    EXPECT_EQ(out["recordings"][0]["status"], "intact");
    EXPECT_EQ(out["recordings"][1]["format"], "rec");
    EXPECT_EQ(out["recordings"][1]["status"], "intact");
    EXPECT_EQ(out["recordings"][1]["sha256"].get<std::string>().size(), 64u);

    // An active session's open recording is not a problem, only "not sealed".
    const std::string live = "5e551011aaaa0000bbbb0000cccc0003";
    addSession(live, "alice", systemNow());
    addRecording(live, 1, "cast", shellCast(live, systemNow()), systemNow(), false);
    r = cli({"session", "show", live});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("not sealed (session active)"));

    r = cli({"session", "show", "0000"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("no session 0000"));
}

// ---- export -----------------------------------------------------------------

TEST_F(CliSessionTest, ExportCastKeepsTheFileAndConvertsRecToAsciicast) {
    const std::string id = addReviewedSession();
    auto r = cli({"session", "export", id});  // default: cast, channel 1, stdout
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, readFile(castFile_));
    EXPECT_THAT(castEvents(r.out, "o"), HasSubstr("hello"));
    EXPECT_THAT(r.err, HasSubstr("--channel"));  // the session has two recordings

    r = cli({"session", "export", id, "--channel", "2", "--format", "cast"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const std::string output = castEvents(r.out, "o");
    EXPECT_THAT(output, HasSubstr("backup done\n"));
    EXPECT_THAT(output, HasSubstr("warning: disk nearly full\n"));  // stderr shown as output
    EXPECT_THAT(output, HasSubstr("\\xff"));  // invalid UTF-8 escaped, not dropped
    EXPECT_THAT(castEvents(r.out, "i"), HasSubstr("\\xfe"));
    EXPECT_EQ(json::parse(lines(r.out)[0])["portcullis"]["session"], id);

    // -o FILE: written with mode 0600, reported on stdout.
    const fs::path file = tmp_.path() / "export.cast";
    r = cli({"session", "export", id, "--channel", "2", "-o", file.string()});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(file.string()));
    EXPECT_THAT(castEvents(readFile(file), "o"), HasSubstr("backup done"));
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);

    // Never over the evidence itself.
    const std::string before = readFile(castFile_);
    r = cli({"session", "export", id, "--channel", "1", "-o", castFile_.string()});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(readFile(castFile_), before);
}

TEST_F(CliSessionTest, ExportTextShowsTheScreenWithoutEscapes) {
    const std::string id = addReviewedSession();
    auto r = cli({"session", "export", id, "--channel", "1", "--format", "text"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("$ echo hello\nhello\n$ "));
    EXPECT_THAT(r.out, HasSubstr("exit\n"));
    EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
    EXPECT_THAT(r.out, Not(HasSubstr("c2VjcmV0")));

    r = cli({"session", "export", id, "--channel", "1", "--format", "text", "--stream", "i"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "echo hello\nexit\n");  // the DEL took back the typo
}

TEST_F(CliSessionTest, ExportRawGivesOneStreamsExactBytes) {
    const std::string id = addReviewedSession();
    auto r = cli({"session", "export", id, "--channel", "2", "--format", "raw", "--stream", "o"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, allByteValues() + "backup done\n");
    r = cli({"session", "export", id, "--channel", "2", "--format", "raw", "--stream", "i"});
    EXPECT_EQ(r.out, allByteValues());
    r = cli({"session", "export", id, "--channel", "2", "--format", "raw", "--stream", "e"});
    EXPECT_EQ(r.out, "warning: disk nearly full\n");

    // A .cast's raw input is the text typed, as recorded.
    r = cli({"session", "export", id, "--format", "raw", "--stream", "i", "--channel", "1"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out,
              "echo hx\x7f"
              "ello\rexit\r");

    // Usage errors: raw without --stream, an unknown format or stream.
    EXPECT_EQ(cli({"session", "export", id, "--format", "raw"}).exitCode, 2);
    EXPECT_EQ(cli({"session", "export", id, "--format", "pdf"}).exitCode, 2);
    EXPECT_EQ(cli({"session", "export", id, "--format", "raw", "--stream", "x"}).exitCode, 2);
    // Not found: a channel or session that does not exist.
    r = cli({"session", "export", id, "--channel", "7"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("no channel 7"));
    EXPECT_EQ(cli({"session", "export", "feedface"}).exitCode, 1);
}

// ---- play -------------------------------------------------------------------

TEST_F(CliSessionTest, PlayWritesTheOutputWithoutWhatTheTerminalWouldAnswer) {
    const std::string id = addReviewedSession();
    // The recording pauses a whole minute: --speed 1000 makes that 60 ms.
    const auto start = std::chrono::steady_clock::now();
    auto r = cli({"session", "play", id, "--speed", "1000", "--channel", "1"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_THAT(r.out, HasSubstr("\x1b[1;31mhello\x1b[0m"));  // colours kept
    EXPECT_THAT(r.out, HasSubstr("exit\r\n"));
    EXPECT_THAT(r.out, Not(HasSubstr("\x1b[6n")));   // a cursor report request
    EXPECT_THAT(r.out, Not(HasSubstr("c2VjcmV0")));  // an OSC 52 clipboard write
    EXPECT_THAT(r.out, Not(HasSubstr("echo hx")));   // input is not shown

    // --idle-limit caps the pause at normal speed.
    r = cli({"session", "play", id, "--idle-limit", "0.05", "--channel", "1"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("exit"));

    // A .rec plays stdout and stderr.
    r = cli({"session", "play", id, "--speed", "1000", "--channel", "2"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("warning: disk nearly full"));
    EXPECT_THAT(r.out, HasSubstr("backup done"));

    EXPECT_EQ(cli({"session", "play", id, "--speed", "0"}).exitCode, 2);
    EXPECT_EQ(cli({"session", "play", id, "--speed", "fast"}).exitCode, 2);
}

// ---- search -----------------------------------------------------------------

TEST_F(CliSessionTest, SearchFindsOutputAndInputLinesWithTheSessionAndTime) {
    const std::string id = addReviewedSession();
    const std::string other = "5e551011aaaa0000bbbb0000cccc0009";
    addSession(other, "bob", started_, started_ + Seconds(61));
    addRecording(other, 1, "cast", shellCast(other, started_), started_);

    auto r = cli({"session", "search", "hel+o", "--user", "alice"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(id));
    EXPECT_THAT(r.out, Not(HasSubstr(other)));
    EXPECT_THAT(r.out, HasSubstr("input  echo hello"));
    EXPECT_THAT(r.out, HasSubstr("output  hello"));

    json matches = cliJson({"session", "search", "^hello$", "--user", "alice"});
    ASSERT_TRUE(matches.is_array());
    ASSERT_EQ(matches.size(), 1u) << matches.dump();
    EXPECT_EQ(matches[0]["session_id"], id);
    EXPECT_EQ(matches[0]["stream"], "output");
    EXPECT_EQ(matches[0]["line"], "hello");
    EXPECT_EQ(matches[0]["channel"], 1);
    EXPECT_EQ(matches[0]["time"], formatIso8601(started_));  // 0.7 s into the session

    matches = cliJson({"session", "search", "echo hello"});
    ASSERT_EQ(matches.size(), 4u) << matches.dump();  // typed and echoed, in both sessions
    EXPECT_EQ(matches[0]["stream"], "input");

    // .rec stderr, with context lines around it.
    matches = cliJson({"session", "search", "disk nearly", "--context", "1"});
    ASSERT_EQ(matches.size(), 1u) << matches.dump();
    EXPECT_EQ(matches[0]["stream"], "stderr");
    EXPECT_EQ(matches[0]["channel"], 2);
    r = cli({"session", "search", "^exit$", "--context", "1", "--user", "alice"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("  > exit"));

    // No match: exit 1 (as grep), an empty array for programs.
    r = cli({"session", "search", "rm -rf", "--json"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(json::parse(r.out), json::array());
    EXPECT_THAT(r.err, HasSubstr("no match"));
    // --since in the future: nothing searched.
    EXPECT_EQ(cli({"session", "search", "hello", "--since", "2999-01-01"}).exitCode, 1);
    // A bad regular expression is a usage error.
    EXPECT_EQ(cli({"session", "search", "(unclosed"}).exitCode, 2);
}

// ---- verify -----------------------------------------------------------------

TEST_F(CliSessionTest, VerifyFindsModifiedTruncatedAndMissingRecordings) {
    const std::string id = addReviewedSession();
    auto r = cli({"session", "verify", id});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("ok"));
    EXPECT_EQ(cliJson({"session", "verify", "--all"})["ok"], true);

    const std::string original = readFile(recFile_);
    std::string edited = original;
    edited[edited.size() - 5] ^= 0x01;  // one bit in "done"
    writeFile(recFile_, edited);
    r = cli({"session", "verify", id});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("modified"));
    EXPECT_THAT(r.out, HasSubstr(id + "-2.rec"));

    writeFile(recFile_, original.substr(0, original.size() - 10));
    json out = cliJson({"session", "verify", "--all"}, 1);
    EXPECT_EQ(out["ok"], false);
    EXPECT_EQ(out["recordings"][1]["status"], "truncated");
    EXPECT_EQ(out["recordings"][0]["status"], "intact");

    fs::remove(recFile_);
    r = cli({"session", "verify", "--all"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("missing file"));
    EXPECT_THAT(cli({"session", "show", id}).out, HasSubstr("missing"));

    writeFile(recFile_, original);
    EXPECT_EQ(cli({"session", "verify", id}).exitCode, 0);
    EXPECT_EQ(cli({"session", "verify"}).exitCode, 2);  // neither ID nor --all

    // A file changed together with its row in the store still differs from
    // the seal portcullisd wrote to the audit chain.
    db::AuditLog(*db_, nullptr, false)
        .record({.type = "session.recording",
                 .actor = "portcullisd",
                 .source = "",
                 .details = {{"session_id", id},
                             {"channel", 2},
                             {"size", original.size()},
                             {"sha256", std::string(64, 'a')}}});
    r = cli({"session", "verify", id});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("seal differs from audit"));
}

TEST_F(CliSessionTest, APathOutsideTheRecordingsDirectoryIsNeverUsed) {
    const std::string id =
        addSession("5e551011aaaa0000bbbb0000cccc0004", "alice", started_, started_ + Seconds(61));
    db::RecordingRow row;
    row.sessionId = id;
    row.channel = 1;
    row.kind = "shell";
    row.format = "cast";
    row.path = "recordings/../master.key";
    row.startedAt = started_;
    db::Recordings(*db_).add(row);
    const std::string masterKey = readFile(state_ / "master.key");

    auto r = cli({"session", "export", id, "--format", "raw", "--stream", "o"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("refusing"));
    r = cli({"session", "verify", id});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.out, HasSubstr("refused path"));
    cli({"session", "prune", "--older-than", "1h"});
    EXPECT_EQ(readFile(state_ / "master.key"), masterKey);
}

// ---- prune ------------------------------------------------------------------

TEST_F(CliSessionTest, PruneRemovesOldEndedSessionsAndTheirFilesAndAuditsIt) {
    const TimePoint now = systemNow();
    const TimePoint longAgo = now - Seconds(10 * 86400);
    const std::string old =
        addSession("0001d000000000000000000000000001", "alice", longAgo, longAgo + Seconds(60));
    const fs::path oldCast = addRecording(old, 1, "cast", shellCast(old, longAgo), longAgo);
    const fs::path oldRec = addRecording(old, 2, "rec", execRec(old, 2, longAgo), longAgo);
    const std::string recent = addSession("0002ecen7000000000000000000000002", "alice",
                                          now - Seconds(3600), now - Seconds(3000));
    const fs::path recentCast =
        addRecording(recent, 1, "cast", shellCast(recent, now - Seconds(3600)), now);
    const std::string active = addSession("0003ac71fe00000000000000000000003", "alice", longAgo);
    const fs::path activeCast =
        addRecording(active, 1, "cast", shellCast(active, longAgo), longAgo, false);

    EXPECT_EQ(cli({"session", "prune"}).exitCode, 2);  // --older-than is required

    auto r = cli({"session", "prune", "--older-than", "7d", "--dry-run"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("would remove " + old));
    EXPECT_TRUE(fs::exists(oldCast));
    EXPECT_EQ(cli({"session", "show", old}).exitCode, 0);

    r = cli({"session", "prune", "--older-than", "7d"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("removed " + old));
    EXPECT_THAT(r.out, Not(HasSubstr(recent)));
    EXPECT_THAT(r.out, Not(HasSubstr(active)));
    EXPECT_FALSE(fs::exists(oldCast));
    EXPECT_FALSE(fs::exists(oldRec));
    EXPECT_TRUE(fs::exists(recentCast));
    EXPECT_TRUE(fs::exists(activeCast));
    EXPECT_EQ(cli({"session", "show", old}).exitCode, 1);
    EXPECT_EQ(cli({"session", "show", recent}).exitCode, 0);
    EXPECT_EQ(cli({"session", "show", active}).exitCode, 0);
    EXPECT_TRUE(db::Recordings(*db_).forSession(old).empty());

    const json events = cliJson({"audit", "list", "--type", "session.pruned"});
    ASSERT_EQ(events.size(), 1u) << events.dump();
    EXPECT_EQ(events[0]["actor"], kOperator);
    EXPECT_EQ(events[0]["details"]["count"], 1);
    EXPECT_EQ(events[0]["details"]["session_ids"], json::array({old}));
    EXPECT_EQ(cli({"audit", "verify"}).exitCode, 0);

    // Nothing left to prune: no change, no event.
    r = cli({"session", "prune", "--older-than", "7d"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("nothing to prune"));
    EXPECT_EQ(cliJson({"audit", "list", "--type", "session.pruned"}).size(), 1u);
}

TEST_F(CliSessionTest, EveryReviewCommandHasHelp) {
    for (const char* command : {"show", "play", "export", "search", "verify", "prune"}) {
        const auto r = cli({"session", command, "--help"});
        EXPECT_EQ(r.exitCode, 0) << command << ": " << describe(r);
        EXPECT_THAT(r.out, HasSubstr("portcullis session " + std::string(command))) << command;
    }
}

}  // namespace
}  // namespace portcullis::test
