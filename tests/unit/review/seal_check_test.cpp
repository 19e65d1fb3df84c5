// review/seal_check: a recording against the seal in the store and the one
// in the audit chain, each refusal beside an untouched control.
#include "review/seal_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "db/audit.hpp"
#include "recording/file_digest.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::review {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SealCheckTest : public ::testing::Test {
  protected:
    // A sealed recording of `content` at recordings/NAME.
    db::RecordingRow sealed(const std::string& name, const std::string& content) {
        db::RecordingRow row;
        row.sessionId = "s-" + name;
        row.channel = 1;
        row.kind = "shell";
        row.format = "cast";
        row.path = "recordings/" + name + ".cast";
        test::writeFile(store_.dir().root() / row.path, content);
        const auto digest = recording::digestFile(store_.dir().root() / row.path);
        EXPECT_TRUE(digest) << digest.error();
        row.size = static_cast<std::int64_t>(digest->size);
        row.sha256 = digest->sha256;
        return row;
    }
    fs::path fileOf(const db::RecordingRow& row) { return store_.dir().root() / row.path; }
    SealCheck check(const db::RecordingRow& row, bool active = false) {
        return checkSeal(store_.dir(), row, active, audited_);
    }

    test::TempStore store_;
    AuditedSeals audited_;
};

TEST_F(SealCheckTest, IntactFileMatches) {
    const auto row = sealed("a", "{\"version\": 2}\n[0.1, \"o\", \"hi\"]\n");
    const auto result = check(row);
    EXPECT_EQ(result.state, SealState::intact);
    EXPECT_FALSE(result.problem());
    EXPECT_EQ(sealWarning(row, result), "");
}

TEST_F(SealCheckTest, SameSizeOtherBytesIsModified) {
    const auto row = sealed("a", "[0.1, \"o\", \"hi\"]\n");
    test::writeFile(fileOf(row), "[0.1, \"o\", \"HI\"]\n");
    const auto result = check(row);
    EXPECT_EQ(result.state, SealState::modified);
    EXPECT_TRUE(result.problem());
    EXPECT_THAT(sealWarning(row, result), HasSubstr("session s-a channel 1"));
    EXPECT_EQ(stateCode(result.state), "modified");
}

TEST_F(SealCheckTest, ShorterFileIsTruncated) {
    const auto row = sealed("a", "[0.1, \"o\", \"hi\"]\n[0.2, \"o\", \"rm -rf\"]\n");
    test::writeFile(fileOf(row), "[0.1, \"o\", \"hi\"]\n");
    const auto result = check(row);
    EXPECT_EQ(result.state, SealState::truncated);
    EXPECT_TRUE(result.problem());
}

TEST_F(SealCheckTest, DeletedFileIsMissing) {
    const auto row = sealed("a", "x\n");
    fs::remove(fileOf(row));
    EXPECT_EQ(check(row).state, SealState::missing);
    EXPECT_TRUE(check(row).problem());
}

TEST_F(SealCheckTest, UnsealedFileOfARunningSessionIsNoProblem) {
    auto row = sealed("a", "x\n");
    row.size.reset();
    row.sha256.reset();
    EXPECT_EQ(check(row, /*active=*/true).state, SealState::activeUnsealed);
    EXPECT_FALSE(check(row, true).problem());
    // The control: the same file once the session ended is a problem.
    EXPECT_EQ(check(row, false).state, SealState::unsealed);
    EXPECT_TRUE(check(row, false).problem());
}

TEST_F(SealCheckTest, PathsOutsideTheRecordingsDirectoryAreNeverRead) {
    const auto row = sealed("a", "x\n");
    EXPECT_TRUE(recordingFile(store_.dir(), row));
    for (const std::string path : {"../master.key", "/etc/shadow", "recordings/../master.key",
                                   "keys/host", "recordings", ""}) {
        auto edited = row;
        edited.path = path;
        const auto file = recordingFile(store_.dir(), edited);
        EXPECT_FALSE(file) << path;
        if (!file) {
            EXPECT_THAT(file.error(), HasSubstr("refusing to use it")) << path;
        }
        EXPECT_EQ(check(edited).state, SealState::unsafePath) << path;
    }
}

// A file edited together with its row in the store still differs from the
// seal the gateway wrote to the audit chain.
TEST_F(SealCheckTest, StoreSealEditedToMatchIsCaughtByTheAuditedSeal) {
    const auto original = sealed("a", "[0.1, \"o\", \"hi\"]\n");
    db::AuditLog audit(store_.db(), nullptr, /*syslog=*/false);
    db::AuditEvent event;
    event.type = "session.recording";
    event.actor = "portcullisd";
    event.details = {{"session_id", original.sessionId},
                     {"channel", original.channel},
                     {"path", original.path},
                     {"size", *original.size},
                     {"sha256", *original.sha256}};
    audit.record(event);
    audited_ = AuditedSeals::load(audit, std::nullopt);
    ASSERT_NE(audited_.find(original.sessionId, 1), nullptr);
    EXPECT_EQ(check(original).state, SealState::intact);  // the control

    // File and row rewritten together: the store alone would say intact.
    const auto forged = sealed("a", "[0.1, \"o\", \"ok\"]\n");
    const auto result = check(forged);
    EXPECT_EQ(result.state, SealState::auditMismatch);
    EXPECT_TRUE(result.problem());
    // Another session's seals are not loaded when one session is asked for.
    EXPECT_EQ(AuditedSeals::load(audit, std::string("s-other")).find(original.sessionId, 1),
              nullptr);
}

}  // namespace
}  // namespace portcullis::review
