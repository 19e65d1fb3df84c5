// gateway/startup_checks: what portcullisd refuses to start with (files others
// can read or write) and what it only warns about (root, shared file systems,
// directories open to others).
#include "gateway/startup_checks.hpp"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/process.hpp"

namespace portcullis::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Level = StartupFinding::Level;

// A state directory as `portcullis init` leaves it: everything 0600 / 0700.
class StartupChecksTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(state_.create().ok());
        test::writeFile(state_.database(), "db", 0600);
        test::writeFile(state_.masterKey(), std::string(32, 'k'), 0600);
        test::writeFile(state_.hostKey(), "host", 0600);
        test::writeFile(state_.upstreamKey(), "upstream", 0600);
    }
    static void chmod(const fs::path& path, mode_t mode) {
        ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
    }
    static std::vector<StartupFinding> ofLevel(const std::vector<StartupFinding>& all,
                                               Level level) {
        std::vector<StartupFinding> out;
        std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                     [level](const StartupFinding& f) { return f.level == level; });
        return out;
    }

    test::TempDir dir_{"portcullis-startup"};
    db::StateDir state_{dir_.path() / "state"};
};

TEST_F(StartupChecksTest, AStateDirectoryAsInitMadeItHasNoFindings) {
    EXPECT_TRUE(checkFileModes(state_).empty());
}

TEST_F(StartupChecksTest, AWorldReadableHostKeyIsRefusedWithTheChmodThatFixesIt) {
    chmod(state_.hostKey(), 0644);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr("host key " + state_.hostKey().string()));
    EXPECT_THAT(findings[0].message, HasSubstr("readable by everyone (mode 0644)"));
    EXPECT_THAT(findings[0].message, HasSubstr("chmod 600 " + state_.hostKey().string()));
    EXPECT_TRUE(refusesToStart(findings));
}

TEST_F(StartupChecksTest, AWorldWritableUpstreamKeyIsRefused) {
    chmod(state_.upstreamKey(), 0602);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr("upstream key " + state_.upstreamKey().string()));
    EXPECT_THAT(findings[0].message, HasSubstr("writable by everyone"));
    EXPECT_THAT(findings[0].message, HasSubstr("chmod 600"));
}

TEST_F(StartupChecksTest, AGroupReadableKeyIsOnlyAWarning) {
    chmod(state_.hostKey(), 0640);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::warn);
    EXPECT_THAT(findings[0].message, HasSubstr("by its group (mode 0640)"));
    EXPECT_FALSE(refusesToStart(findings));
}

TEST_F(StartupChecksTest, AWorldReadableDatabaseIsRefusedByTheStoreRule) {
    chmod(state_.database(), 0644);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    // The same words as every other program (db::StateDir::checkPermissions).
    EXPECT_EQ(findings[0].message, state_.checkPermissions().error());
    EXPECT_THAT(findings[0].message, HasSubstr(state_.database().string()));
    EXPECT_THAT(findings[0].message, HasSubstr("chmod o-rw"));
}

TEST_F(StartupChecksTest, AGroupReadableMasterKeyIsRefused) {
    chmod(state_.masterKey(), 0640);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr("chmod 600 " + state_.masterKey().string()));
}

TEST_F(StartupChecksTest, AWorldReadableDatabaseJournalIsRefused) {
    const fs::path wal = state_.database().string() + "-wal";
    test::writeFile(wal, "pages", 0644);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr(wal.string()));
    EXPECT_THAT(findings[0].message, HasSubstr("chmod o-rw " + wal.string()));
}

TEST_F(StartupChecksTest, EveryProblemIsReportedNotOnlyTheFirst) {
    chmod(state_.database(), 0644);
    chmod(state_.hostKey(), 0644);
    chmod(state_.upstreamKey(), 0644);
    const auto findings = checkFileModes(state_);
    EXPECT_EQ(ofLevel(findings, Level::refuse).size(), 3u);
}

TEST_F(StartupChecksTest, AMissingStateDirectoryIsRefused) {
    const db::StateDir missing(dir_.path() / "nowhere");
    const auto findings = checkFileModes(missing);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr("portcullis init"));
}

TEST_F(StartupChecksTest, MissingKeysAreLeftToTheKeyLoader) {
    fs::remove(state_.hostKey());
    fs::remove(state_.upstreamKey());
    EXPECT_TRUE(checkFileModes(state_).empty());
}

TEST_F(StartupChecksTest, AStateDirectoryOpenToEveryoneIsAWarning) {
    chmod(state_.root(), 0755);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::warn);
    EXPECT_THAT(findings[0].message, HasSubstr("chmod 700 " + state_.root().string()));
}

TEST_F(StartupChecksTest, AWorldWritableStateDirectoryIsRefusedOnce) {
    chmod(state_.root(), 0757);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::refuse);
    EXPECT_THAT(findings[0].message, HasSubstr("world-writable"));
}

TEST_F(StartupChecksTest, AWorldWritableKeysOrRecordingsDirectoryIsRefused) {
    chmod(state_.keysDir(), 0703);
    chmod(state_.recordings(), 0777);
    const auto refusals = ofLevel(checkFileModes(state_), Level::refuse);
    ASSERT_EQ(refusals.size(), 2u);
    EXPECT_THAT(refusals[0].message, HasSubstr("chmod 700 " + state_.keysDir().string()));
    EXPECT_THAT(refusals[1].message, HasSubstr("chmod 700 " + state_.recordings().string()));
}

TEST_F(StartupChecksTest, AReadableRecordingsDirectoryIsAWarning) {
    chmod(state_.recordings(), 0755);
    const auto findings = checkFileModes(state_);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].level, Level::warn);
    EXPECT_THAT(findings[0].message, HasSubstr(state_.recordings().string()));
}

TEST(StartupChecksUser, RootIsAWarningAndOthersAreFine) {
    const auto root = checkEffectiveUser(0);
    ASSERT_TRUE(root.has_value());
    EXPECT_EQ(root->level, Level::warn);
    EXPECT_THAT(root->message, HasSubstr("running as root"));
    EXPECT_FALSE(checkEffectiveUser(999).has_value());
    EXPECT_FALSE(checkEffectiveUser(65534).has_value());
}

TEST(StartupChecksFileSystem, NetworkAndFuseTypesAreNamed) {
    EXPECT_EQ(sharedFileSystemName(0x6969), "nfs");
    EXPECT_EQ(sharedFileSystemName(0xFF534D42), "cifs");
    EXPECT_EQ(sharedFileSystemName(0xFE534D42), "smb2");
    EXPECT_EQ(sharedFileSystemName(0x517B), "smb");
    EXPECT_EQ(sharedFileSystemName(0x65735546), "fuse");
    EXPECT_EQ(sharedFileSystemName(0x00C36400), "ceph");
    EXPECT_EQ(sharedFileSystemName(0x01021997), "9p");
    // f_type is a signed word: CIFS's magic may come sign-extended.
    EXPECT_EQ(sharedFileSystemName(0xFFFFFFFFFF534D42ULL), "cifs");
}

TEST(StartupChecksFileSystem, LocalTypesAreNotShared) {
    EXPECT_FALSE(sharedFileSystemName(0xEF53).has_value());      // ext4
    EXPECT_FALSE(sharedFileSystemName(0x58465342).has_value());  // xfs
    EXPECT_FALSE(sharedFileSystemName(0x9123683E).has_value());  // btrfs
    EXPECT_FALSE(sharedFileSystemName(0x01021994).has_value());  // tmpfs
    EXPECT_FALSE(sharedFileSystemName(0x794C7630).has_value());  // overlayfs
    EXPECT_FALSE(sharedFileSystemName(0).has_value());
}

TEST(StartupChecksFileSystem, ASharedStateDirectoryIsAWarningNamingIt) {
    const auto f = checkFileSystemType("/srv/nfs/portcullis", "state directory", 0x6969);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->level, Level::warn);
    EXPECT_THAT(f->message, HasSubstr("state directory /srv/nfs/portcullis"));
    EXPECT_THAT(f->message, HasSubstr("(nfs)"));
    EXPECT_THAT(f->message, HasSubstr("local disk"));
    EXPECT_FALSE(checkFileSystemType("/var/lib/portcullis", "state directory", 0xEF53));
}

TEST_F(StartupChecksTest, TheRealFileSystemIsClassifiedByItsType) {
    struct statfs sfs {};
    ASSERT_EQ(::statfs(state_.root().c_str(), &sfs), 0);
    const auto findings = checkFileSystems(state_);
    if (sharedFileSystemName(static_cast<std::uint64_t>(sfs.f_type))) {
        ASSERT_EQ(findings.size(), 1u);  // this machine's TMPDIR is on a shared one
        EXPECT_EQ(findings[0].level, Level::warn);
    } else {
        EXPECT_TRUE(findings.empty());
    }
    EXPECT_TRUE(checkFileSystems(db::StateDir(dir_.path() / "nowhere")).empty());
}

TEST_F(StartupChecksTest, ThePostureListsRefusalsFirstAndWarnsAboutRoot) {
    chmod(state_.root(), 0755);     // warning
    chmod(state_.hostKey(), 0644);  // refusal
    const auto findings = checkStartupPosture(state_);
    ASSERT_FALSE(findings.empty());
    EXPECT_EQ(findings.front().level, Level::refuse);
    EXPECT_THAT(findings.front().message, HasSubstr(state_.hostKey().string()));
    const bool warnsRoot =
        std::any_of(findings.begin(), findings.end(), [](const StartupFinding& f) {
            return f.level == Level::warn && f.message.find("running as root") != std::string::npos;
        });
    EXPECT_EQ(warnsRoot, ::geteuid() == 0);
    EXPECT_TRUE(std::is_partitioned(findings.begin(), findings.end(), [](const StartupFinding& f) {
        return f.level == Level::refuse;
    }));
}

}  // namespace
}  // namespace portcullis::gateway
