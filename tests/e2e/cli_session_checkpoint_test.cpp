// Issue 12 finding 5 (the reviewer's side) and SPEC §15: `session verify`
// with recording checkpoints. The gateway side is another branch's, so the
// sessions, recording files and `recording.checkpoint` / `session.recording`
// events are written here through db/, as the contract says the gateway
// writes them; the real `portcullis` checks them. Exit codes: 0 every
// recording matches its seal, 1 any mismatch or missing file, 3 an unsealed
// recording that matches its last checkpoint (its tail is unverifiable);
// 1 wins over 3 over 0. Also finding 6: `--all` reports what the audit chain
// knows and the store no longer holds.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

class CliSessionCheckpointTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(cli({"init"}).exitCode, 0);
        db_.emplace(db::Database::open(dir_).value());
        audit_.emplace(*db_, &dir_, false);
    }
    ProcessResult cli(std::vector<std::string> args) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        ProcessOptions options;
        options.env.emplace("SUDO_USER", "ops-gina");
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess(args, options);
    }
    json verifyJson(const std::vector<std::string>& what, int expectedExit) {
        std::vector<std::string> args{"session", "verify"};
        args.insert(args.end(), what.begin(), what.end());
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, expectedExit) << describe(r);
        return json::parse(r.out, nullptr, false);
    }

    void addSession(const std::string& id, bool ended = true) {
        db::Sessions sessions(*db_);
        sessions.insert({.id = id,
                         .account = "alice",
                         .login = "root",
                         .target = "cosigner-1",
                         .grantId = std::nullopt,
                         .source = "192.0.2.7",
                         .gateway = "gw:1",
                         .startedAt = started_});
        audit_->record(
            {"session.start", "alice", "192.0.2.7", {{"session_id", id}, {"channel", "shell"}}});
        if (ended) {
            EXPECT_TRUE(sessions.finish(id, {.status = "aborted",
                                             .reason = "gateway restarted",
                                             .bytesIn = 0,
                                             .bytesOut = 0,
                                             .endedAt = started_ + Seconds(60)}));
        }
    }
    // The file and its row, unsealed (as a crash leaves it).
    std::int64_t addRecording(const std::string& session, int channel, const std::string& content) {
        const std::string relative =
            "recordings/" + session + "-" + std::to_string(channel) + ".rec";
        writeFile(state_ / relative, content);
        db::RecordingRow row;
        row.sessionId = session;
        row.channel = channel;
        row.kind = "exec";
        row.format = "rec";
        row.path = relative;
        row.startedAt = started_;
        return db::Recordings(*db_).add(row);
    }
    fs::path file(const std::string& session, int channel) const {
        return state_ / "recordings" / (session + "-" + std::to_string(channel) + ".rec");
    }
    // What the gateway writes while the file grows: size and SHA-256 of the first `size` bytes.
    void checkpoint(const std::string& session, int channel, const std::string& prefix) {
        audit_->record({"recording.checkpoint",
                        "alice",
                        "192.0.2.7",
                        {{"session_id", session},
                         {"channel", channel},
                         {"path", "recordings/" + session + "-" + std::to_string(channel) + ".rec"},
                         {"size", prefix.size()},
                         {"sha256", sha256Hex(prefix)}}});
    }
    // The seal at close: the row and the session.recording event.
    void seal(std::int64_t rowId, const std::string& session, int channel,
              const std::string& content) {
        db::Recordings(*db_).seal(rowId, static_cast<std::int64_t>(content.size()),
                                  sha256Hex(content), started_ + Seconds(60));
        audit_->record({"session.recording",
                        "alice",
                        "192.0.2.7",
                        {{"session_id", session},
                         {"channel", channel},
                         {"path", "recordings/" + session + "-" + std::to_string(channel) + ".rec"},
                         {"size", content.size()},
                         {"sha256", sha256Hex(content)}}});
    }

    TempDir tmp_{"cli-session-checkpoint"};
    fs::path state_ = tmp_.path() / "state";
    db::StateDir dir_{state_};
    std::optional<db::Database> db_;
    std::optional<db::AuditLog> audit_;
    TimePoint started_ = systemNow() - Seconds(3600);
    const std::string head_ = std::string(4096, 'h') + "checkpointed part\n";
    const std::string tail_ = "written after the last checkpoint\n";
};

TEST_F(CliSessionCheckpointTest, SealedRecordingThatMatchesExitsZero) {
    const std::string id = "c0000000000000000000000000000001";
    addSession(id);
    const auto row = addRecording(id, 1, head_ + tail_);
    checkpoint(id, 1, head_);
    seal(row, id, 1, head_ + tail_);
    const json out = verifyJson({id}, 0);
    EXPECT_EQ(out["ok"], true);
    EXPECT_EQ(out["recordings"][0]["status"], "intact");
    EXPECT_EQ(out["problems"], json::array());
}

TEST_F(CliSessionCheckpointTest, UnsealedRecordingMatchingItsLastCheckpointExitsThree) {
    const std::string id = "c0000000000000000000000000000002";
    addSession(id);
    addRecording(id, 1, head_ + tail_);
    checkpoint(id, 1, head_.substr(0, 100));
    checkpoint(id, 1, head_);  // the last one is what counts
    const auto r = cli({"session", "verify", id});
    EXPECT_EQ(r.exitCode, 3) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("unverifiable tail: " + std::to_string(tail_.size()) +
                                 " bytes after the last checkpoint"));
    EXPECT_THAT(r.out, HasSubstr("0 ok or still being written, 1 unverifiable"));
    const json out = verifyJson({id}, 3);
    EXPECT_EQ(out["ok"], false);
    EXPECT_EQ(out["unverifiable"], 1);
    EXPECT_EQ(out["recordings"][0]["status"], "unverifiable_tail");
    EXPECT_EQ(out["problems"], json::array());
}

TEST_F(CliSessionCheckpointTest, AnEditBeforeTheLastCheckpointExitsOne) {
    const std::string id = "c0000000000000000000000000000003";
    addSession(id);
    std::string edited = head_ + tail_;
    edited[10] = 'X';
    addRecording(id, 1, edited);
    checkpoint(id, 1, head_);
    const json out = verifyJson({id}, 1);
    EXPECT_EQ(out["recordings"][0]["status"], "modified");
    ASSERT_EQ(out["problems"].size(), 1u);
    EXPECT_EQ(out["problems"][0]["session_id"], id);
    EXPECT_EQ(out["problems"][0]["channel"], 1);
    EXPECT_THAT(out["problems"][0]["problem"].get<std::string>(),
                HasSubstr("differ from its last checkpoint"));
}

TEST_F(CliSessionCheckpointTest, AFileShorterThanItsLastCheckpointExitsOne) {
    const std::string id = "c0000000000000000000000000000004";
    addSession(id);
    addRecording(id, 1, head_.substr(0, 1000));
    checkpoint(id, 1, head_);
    const json out = verifyJson({id}, 1);
    EXPECT_EQ(out["recordings"][0]["status"], "truncated");
    EXPECT_THAT(out["recordings"][0]["detail"].get<std::string>(),
                HasSubstr("shorter than its last checkpoint"));
}

TEST_F(CliSessionCheckpointTest, NoSealAndNoCheckpointExitsOne) {
    const std::string id = "c0000000000000000000000000000005";
    addSession(id);
    addRecording(id, 1, head_ + tail_);
    const auto r = cli({"session", "verify", id});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("no seal and no checkpoint"));
}

TEST_F(CliSessionCheckpointTest, ASealedFileWhosePrefixDiffersFromItsCheckpointExitsOne) {
    // The file, its row and its seal event rewritten together: the checkpoint
    // written while it grew still tells.
    const std::string id = "c0000000000000000000000000000006";
    addSession(id);
    std::string edited = head_ + tail_;
    edited[5] = 'X';
    const auto row = addRecording(id, 1, edited);
    checkpoint(id, 1, head_);
    seal(row, id, 1, edited);
    const json out = verifyJson({id}, 1);
    EXPECT_THAT(out["recordings"][0]["detail"].get<std::string>(),
                HasSubstr("differ from its last checkpoint"));
}

TEST_F(CliSessionCheckpointTest, OneWinsOverThreeOverZero) {
    const std::string id = "c0000000000000000000000000000007";
    addSession(id);
    const auto sealedRow = addRecording(id, 1, head_);
    seal(sealedRow, id, 1, head_);
    addRecording(id, 2, head_ + tail_);
    checkpoint(id, 2, head_);
    EXPECT_EQ(verifyJson({id}, 3)["unverifiable"], 1);  // 3 over 0
    std::string edited = head_;
    edited[0] = 'X';
    addRecording(id, 3, edited);
    checkpoint(id, 3, head_);
    const json out = verifyJson({id}, 1);  // 1 over 3
    EXPECT_EQ(out["unverifiable"], 1);
    EXPECT_EQ(out["problems"].size(), 1u);
    EXPECT_EQ(verifyJson({"--all"}, 1)["checked"], 3);
}

TEST_F(CliSessionCheckpointTest, ALiveRecordingIsCheckedUpToItsLastCheckpoint) {
    const std::string id = "c0000000000000000000000000000008";
    addSession(id, /*ended=*/false);
    addRecording(id, 1, head_ + tail_);
    checkpoint(id, 1, head_);
    EXPECT_EQ(verifyJson({id}, 0)["recordings"][0]["status"], "active");
    std::string edited = head_ + tail_;
    edited[1] = 'X';
    writeFile(file(id, 1), edited);
    EXPECT_EQ(verifyJson({id}, 1)["recordings"][0]["status"], "modified");
}

TEST_F(CliSessionCheckpointTest, AllReportsWhatTheChainKnowsAndTheStoreLost) {
    const std::string kept = "c0000000000000000000000000000009";
    const std::string gone = "c000000000000000000000000000000a";
    addSession(kept);
    const auto row = addRecording(kept, 1, head_);
    seal(row, kept, 1, head_);
    addSession(gone);
    const auto goneRow = addRecording(gone, 1, head_);
    checkpoint(gone, 1, head_);
    seal(goneRow, gone, 1, head_);
    EXPECT_EQ(verifyJson({"--all"}, 0)["problems"], json::array());  // control

    // Someone with write access deletes a session and its recording rows.
    db_->exec("DELETE FROM recordings WHERE session_id = '" + gone + "'");
    db_->exec("DELETE FROM sessions WHERE id = '" + gone + "'");
    const auto r = cli({"session", "verify", "--all"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("session " + gone + ": started in the audit chain"));
    EXPECT_THAT(r.out, HasSubstr("recording of session " + gone + " channel 1"));
    EXPECT_THAT(r.out, HasSubstr("is still there"));
    const json out = verifyJson({"--all"}, 1);
    EXPECT_EQ(out["problems"].size(), 2u) << out.dump();
    // A single session's verify is about that session only.
    EXPECT_EQ(verifyJson({kept}, 0)["problems"], json::array());

    // What `session prune` removed is not reported: it says so in the chain.
    audit_->record({"session.pruned", "ops-gina", "", {{"session_ids", json::array({gone})}}});
    EXPECT_EQ(verifyJson({"--all"}, 0)["problems"], json::array());
}

}  // namespace
}  // namespace portcullis::test
