// End-to-end tests of issue 12 finding 5: recordings are sealed however a
// channel ends, checkpointed while they are written, and a crash's leftovers
// are reported against their last checkpoint instead of being sealed as found.
// Real ssh through the real portcullisd to a real sshd target.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "db/recordings.hpp"
#include "recording/file_digest.hpp"
#include "tests/e2e/support/pty_session.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

namespace fs = std::filesystem;
using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessResult;
using portcullis::test::PtySession;
using portcullis::test::readFile;
using portcullis::test::runProcess;
using portcullis::test::SshCall;
using portcullis::test::writeFile;

constexpr std::uint64_t kSixteenMiB = 16 * 1024 * 1024;

class RecordingSealTest : public portcullis::test::SingleTargetTest {
  protected:
    static constexpr const char* kUser = "seal1";

    void SetUp() override { setUpTarget(kUser); }

    SshCall call(const std::string& command) {
        SshCall c;
        c.user = std::string(kUser) + ":box";
        c.key = key_;
        c.command = command;
        c.code = gw_->code(kUser);
        return c;
    }
    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    }
    // Polls the audit chain until `found` holds for some event of `type` of
    // this session; returns that event's details (null on the deadline).
    nlohmann::json awaitEvent(const std::string& type, const std::string& session,
                              const std::function<bool(const nlohmann::json&)>& found,
                              std::chrono::seconds wait = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < deadline) {
            for (const auto& rec : gw_->audit(type)) {
                const auto& d = rec.event.details;
                if (d.value("session_id", "") == session && found(d)) return d;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return nullptr;
    }
    std::string newestSession(std::chrono::seconds wait = std::chrono::seconds(20)) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < deadline) {
            std::string id;
            for (const auto& rec : gw_->audit("session.start"))
                id = rec.event.details.value("session_id", "");
            if (!id.empty()) return id;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return "";
    }
    std::vector<nlohmann::json> checkpoints(const std::string& session) {
        std::vector<nlohmann::json> out;
        for (const auto& rec : gw_->audit("recording.checkpoint"))
            if (rec.event.details.value("session_id", "") == session)
                out.push_back(rec.event.details);
        return out;
    }
    fs::path recordingPath(const std::string& session) {
        const auto rows = db::Recordings(gw_->db()).forSession(session);
        if (rows.empty()) return {};
        return gw_->stateDir().root() / rows.front().path;
    }

    // A session of `command` left running (exec, no pty) while the gateway is
    // SIGKILLed once a checkpoint past 16 MiB is in the chain; returns the
    // session and that checkpoint.
    std::pair<std::string, nlohmann::json> crashAfterACheckpoint() {
        gw_->start();
        auto c = call("head -c 17000000 /dev/zero; echo streamed >&2; sleep 60");
        c.timeout = std::chrono::seconds(60);
        std::thread client([this, c] { gw_->ssh(c); });
        const auto id = newestSession();
        EXPECT_FALSE(id.empty());
        const auto checkpoint = awaitEvent("recording.checkpoint", id, [](const auto& d) {
            return d.value("size", std::uint64_t{0}) >= kSixteenMiB;
        });
        // The rest of the 17 MB is written after it.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        std::error_code ec;
        while (std::chrono::steady_clock::now() < deadline &&
               fs::file_size(recordingPath(id), ec) < 17000000) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        EXPECT_GE(fs::file_size(recordingPath(id), ec), 17000000u);
        gw_->stop(SIGKILL, std::chrono::seconds(5));
        client.join();
        return {id, checkpoint};
    }
};

// Issue 12 finding 5: a shell ended by a dropped TCP connection (the ssh
// client SIGKILLed) is sealed with the digest computed while writing;
// `session verify` says ok, and an edit is found.
TEST_F(RecordingSealTest, ShellEndedByADroppedConnectionIsSealed) {
    gw_->start();
    const auto c = call("");
    auto argv = gw_->sshArgs(c);
    argv.insert(argv.begin() + 1, "-tt");
    auto env = gw_->sshEnv(gw_->askpass(c.code));
    env["TERM"] = "xterm";
    PtySession ssh(argv, env, {"SSH_AUTH_SOCK"});
    ASSERT_TRUE(ssh.expect("# ")) << ssh.output();
    ssh.send("echo dropped-$((20+22))\r");
    ASSERT_TRUE(ssh.expect("dropped-42")) << ssh.output();
    const auto id = newestSession();
    ASSERT_FALSE(id.empty());

    ssh.kill(SIGKILL);  // no EOF, no channel close: the TCP connection just goes
    ssh.wait();
    const auto seal = awaitEvent("session.recording", id, [](const auto&) { return true; });
    ASSERT_FALSE(seal.is_null()) << "no session.recording for the dropped session";
    const auto rows = db::Recordings(gw_->db()).forSession(id);
    ASSERT_EQ(rows.size(), 1u);
    ASSERT_TRUE(rows[0].sealed());
    EXPECT_EQ(seal.value("sha256", ""), *rows[0].sha256);
    const auto file = gw_->stateDir().root() / rows[0].path;
    EXPECT_TRUE(contains(readFile(file), "dropped-42"));

    const auto verified = cli({"session", "verify", id});
    EXPECT_EQ(verified.exitCode, 0) << describe(verified);
    const auto original = readFile(file);
    writeFile(file, original + "[99.0, \"o\", \"forged\"]\n", 0600);
    const auto edited = cli({"session", "verify", id});
    EXPECT_EQ(edited.exitCode, 1) << describe(edited);
}

// Issue 12 finding 5 (SPEC §15): checkpoints at creation and at least every
// 16 MiB while a recording grows; each one's digest is that of the file's
// first `size` bytes.
TEST_F(RecordingSealTest, CheckpointsAtLeastEverySixteenMebibytesWhileStreaming) {
    gw_->start();
    const auto r = gw_->ssh(call("head -c 40000000 /dev/zero"));
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    ASSERT_EQ(r.out.size(), 40000000u);
    const auto id = newestSession();
    const auto seal = awaitEvent("session.recording", id, [](const auto&) { return true; });
    ASSERT_FALSE(seal.is_null());
    const auto file = recordingPath(id);
    const auto all = checkpoints(id);
    ASSERT_GE(all.size(), 3u);
    // The first: the header alone, written at creation.
    const auto firstLine = readFile(file).substr(0, readFile(file).find('\n') + 1);
    EXPECT_EQ(all.front().value("size", std::uint64_t{0}), firstLine.size());
    EXPECT_EQ(all.front().value("path", ""), "recordings/" + file.filename().string());
    EXPECT_EQ(all.front().value("channel", 0), 1);
    std::uint64_t previous = 0;
    for (const auto& cp : all) {
        const auto size = cp.value("size", std::uint64_t{0});
        EXPECT_LE(size - previous, kSixteenMiB) << "gap before the checkpoint at " << size;
        const auto prefix = recording::digestFilePrefix(file, size);
        ASSERT_TRUE(prefix.ok());
        EXPECT_EQ(prefix->sha256, cp.value("sha256", "")) << "checkpoint at " << size;
        previous = size;
    }
    EXPECT_LE(seal.value("size", std::uint64_t{0}) - previous, kSixteenMiB);
}

// Issue 12 finding 5: a gateway SIGKILLed mid-session, the file edited before
// its last checkpoint, restarted: the recording is not sealed as found, and
// `recording.unsealed` says its prefix does not match.
TEST_F(RecordingSealTest, AnEditBeforeTheLastCheckpointIsFoundAfterACrash) {
    const auto [id, checkpoint] = crashAfterACheckpoint();
    ASSERT_FALSE(checkpoint.is_null()) << "no checkpoint past 16 MiB before the crash";
    const auto file = recordingPath(id);
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4096);
        f.put('X');  // inside the frames of zeros, well before the checkpoint
    }
    gw_->start();
    const auto report = awaitEvent("recording.unsealed", id, [](const auto&) { return true; });
    ASSERT_FALSE(report.is_null()) << "no recording.unsealed at start-up";
    EXPECT_FALSE(report.value("prefix_matches", true)) << report.dump();
    EXPECT_EQ(report.value("problem", ""), "differs from its last checkpoint") << report.dump();
    EXPECT_EQ(report["checkpoint"].value("size", std::uint64_t{0}),
              checkpoints(id).back().value("size", std::uint64_t{1}));
    const auto rows = db::Recordings(gw_->db()).forSession(id);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_FALSE(rows[0].sealed()) << "an edited leftover was sealed as found";
    EXPECT_TRUE(rows[0].endedAt.has_value());
    EXPECT_TRUE(gw_->audit("session.recording").empty());
    const auto verified = cli({"session", "verify", id});
    EXPECT_EQ(verified.exitCode, 1) << describe(verified);
}

// The positive control: unedited, the prefix still matches its checkpoint,
// and what lies after it is reported as unverifiable, never sealed.
TEST_F(RecordingSealTest, AnUneditedLeftoverMatchesItsLastCheckpoint) {
    const auto [id, checkpoint] = crashAfterACheckpoint();
    ASSERT_FALSE(checkpoint.is_null()) << "no checkpoint past 16 MiB before the crash";
    const auto size = fs::file_size(recordingPath(id));
    gw_->start();
    const auto report = awaitEvent("recording.unsealed", id, [](const auto&) { return true; });
    ASSERT_FALSE(report.is_null()) << "no recording.unsealed at start-up";
    EXPECT_TRUE(report.value("prefix_matches", false)) << report.dump();
    EXPECT_EQ(report.value("size", std::uint64_t{0}), size);
    const auto last = checkpoints(id).back().value("size", std::uint64_t{0});
    EXPECT_EQ(report["checkpoint"].value("size", std::uint64_t{0}), last);
    EXPECT_EQ(report.value("unverifiable_bytes", std::uint64_t{0}), size - last);
    const auto rows = db::Recordings(gw_->db()).forSession(id);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_FALSE(rows[0].sealed());
    // Never "ok": the tail after the checkpoint cannot be verified.
    const auto verified = cli({"session", "verify", id});
    EXPECT_NE(verified.exitCode, 0) << describe(verified);
    // Reported once: it is no longer a leftover for the next start.
    EXPECT_TRUE(db::Recordings(gw_->db()).unsealedOfEndedSessions().empty());
}

}  // namespace
}  // namespace portcullis::gateway::test
