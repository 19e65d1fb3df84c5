// Issue 13: a read-only store (an evidence snapshot) broke even `audit
// verify` and `session list` with "unable to open database file". On a real
// read-only mount (a tmpfs, remounted read-only; PLATFORM.md "Real faults as
// root"), the read-only commands now work, and a change says "read-only file
// system". Three snapshots of the same store:
//   - taken after a clean close: portcullis.db alone (SQLite must open it
//     immutable, no -shm can be made);
//   - taken live: portcullis.db, -wal and -shm, events only in the -wal
//     (mode=ro reads them through the -shm);
//   - a -wal without its -shm: SQLite cannot read the -wal there; refused
//     with what to do, never read as if the -wal were not there.
// Root only (mount); skipped with the reason otherwise. Unmounted in TearDown.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
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

constexpr const char* kSession = "5eed000000000000000000000000e001";

class CliReadOnlyStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a read-only file system";
        fs::create_directories(mount_);
        ASSERT_EQ(::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=8m,mode=0700"), 0)
            << std::strerror(errno);
        mounted_ = true;
        ASSERT_EQ(cli(live_, {"init"}).exitCode, 0);
        ASSERT_EQ(cli(live_, {"user", "add", "alice"}).exitCode, 0);
        addSession();
    }
    void TearDown() override {
        if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
    }

    ProcessResult cli(const fs::path& state, std::vector<std::string> args) {
        return runCli(state, std::move(args), "ops-frank");
    }
    void addSession() {
        auto db = db::Database::open(db::StateDir(live_));
        ASSERT_TRUE(db) << db.error();
        const TimePoint started = systemNow() - Seconds(600);
        db::Sessions sessions(*db);
        sessions.insert({.id = kSession,
                         .account = "alice",
                         .login = "root",
                         .target = "cosigner-1",
                         .grantId = std::nullopt,
                         .source = "192.0.2.7",
                         .gateway = "gw:1",
                         .startedAt = started});
        ASSERT_TRUE(sessions.finish(kSession, {.status = "closed",
                                               .reason = "client closed",
                                               .bytesIn = 0,
                                               .bytesOut = 0,
                                               .endedAt = started + Seconds(5)}));
        const std::string relative = std::string("recordings/") + kSession + ".rec";
        writeFile(live_ / relative, "{\"version\":1}\n", 0600);
        db::RecordingRow row;
        row.sessionId = kSession;
        row.kind = "exec";
        row.format = "rec";
        row.path = relative;
        row.startedAt = started;
        db::Recordings recordings(*db);
        const auto id = recordings.add(row);
        const auto digest = recording::digestFile(live_ / relative);
        ASSERT_TRUE(digest);
        ASSERT_TRUE(recordings.seal(id, static_cast<std::int64_t>(digest->size), digest->sha256,
                                    started + Seconds(5)));
    }
    // Copies the live state directory into the mount, as `cp -a` would.
    fs::path snapshot(const std::string& name) {
        const fs::path to = mount_ / name;
        EXPECT_EQ(runProcess({"cp", "-a", live_.string(), to.string()}).exitCode, 0);
        return to;
    }
    void remountReadOnly() {
        ASSERT_EQ(::mount("tmpfs", mount_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=8m"), 0)
            << std::strerror(errno);
        // The control: the mount really refuses writes now.
        ASSERT_EQ(::access(mount_.c_str(), W_OK), -1);
        ASSERT_EQ(errno, EROFS);
    }
    // The read-only commands a reviewer runs on a snapshot.
    void expectReadOnlyCommandsWork(const fs::path& state, std::size_t events) {
        auto r = cli(state, {"audit", "verify", "--json"});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        EXPECT_EQ(json::parse(r.out, nullptr, false).value("checked", 0u), events) << r.out;
        r = cli(state, {"session", "list", "--json"});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        EXPECT_EQ(json::parse(r.out, nullptr, false).size(), 1u) << r.out;
        for (const std::vector<std::string>& args :
             {std::vector<std::string>{"session", "show", kSession},
              std::vector<std::string>{"session", "verify", kSession},
              std::vector<std::string>{"session", "verify", "--all"},
              std::vector<std::string>{"session", "export", kSession, "--format", "raw", "--stream",
                                       "o"},
              std::vector<std::string>{"audit", "list", "--type", "admin.user.add"},
              std::vector<std::string>{"audit", "head"}, std::vector<std::string>{"user", "list"},
              std::vector<std::string>{"user", "show", "alice"},
              std::vector<std::string>{"policy", "check", "alice", "root@cosigner-1"}}) {
            r = cli(state, args);
            // policy check exits 1: alice has no grant (a decision, not a store error).
            EXPECT_EQ(r.exitCode, args[0] == "policy" ? 1 : 0)
                << args[0] << " " << args[1] << describe(r);
            EXPECT_THAT(r.err, Not(HasSubstr("unable to open"))) << describe(r);
        }
    }
    void expectChangesRefused(const fs::path& state) {
        for (const std::vector<std::string>& args :
             {std::vector<std::string>{"user", "add", "bob"},
              std::vector<std::string>{"user", "disable", "alice"}}) {
            const auto r = cli(state, args);
            EXPECT_EQ(r.exitCode, 1) << describe(r);
            EXPECT_THAT(r.err, HasSubstr("read-only file system")) << describe(r);
        }
    }
    std::size_t liveEvents() {
        const auto r = cli(live_, {"audit", "verify", "--json"});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return json::parse(r.out, nullptr, false).value("checked", 0u);
    }

    TempDir tmp_{"cli-read-only"};
    fs::path live_ = tmp_.path() / "live";
    fs::path mount_ = tmp_.path() / "evidence";
    bool mounted_ = false;
};

TEST_F(CliReadOnlyStoreTest, ACleanlyClosedSnapshotIsReadable) {
    const std::size_t events = liveEvents();
    const fs::path state = snapshot("closed");
    // As a clean close leaves it: no -shm, and no -wal or an empty one (a
    // read-only command leaves an empty -wal and a -shm behind on a live store).
    fs::remove(state / "portcullis.db-shm");
    ASSERT_TRUE(!fs::exists(state / "portcullis.db-wal") ||
                fs::file_size(state / "portcullis.db-wal") == 0);
    // Control: the same snapshot on a writable medium takes changes.
    const fs::path writable = tmp_.path() / "writable";
    ASSERT_EQ(runProcess({"cp", "-a", state.string(), writable.string()}).exitCode, 0);
    EXPECT_EQ(cli(writable, {"user", "add", "bob"}).exitCode, 0);
    remountReadOnly();
    expectReadOnlyCommandsWork(state, events);
    expectChangesRefused(state);
}

TEST_F(CliReadOnlyStoreTest, ALiveSnapshotWithItsWalIsReadWhole) {
    // A connection that keeps events in the -wal (as a running portcullisd
    // would): the snapshot is taken while it is open.
    auto db = db::Database::open(db::StateDir(live_));
    ASSERT_TRUE(db) << db.error();
    db->exec("PRAGMA wal_autocheckpoint = 0");
    const db::StateDir dir(live_);
    db::AuditLog mirrored(*db, &dir, false);
    for (int i = 0; i < 3; ++i) {
        mirrored.record(
            db::AuditEvent{"admin.user.add", "ops", "", {{"account", "x" + std::to_string(i)}}});
    }
    const std::size_t events = liveEvents();
    const fs::path state = snapshot("live");
    ASSERT_GT(fs::file_size(state / "portcullis.db-wal"), 0u);
    ASSERT_TRUE(fs::exists(state / "portcullis.db-shm"));
    remountReadOnly();
    expectReadOnlyCommandsWork(state, events);
    const auto r = cli(state, {"audit", "list", "--type", "admin.user.add", "--json"});
    EXPECT_EQ(json::parse(r.out, nullptr, false).size(), 4u) << r.out;  // alice and x0..x2
    expectChangesRefused(state);
}

TEST_F(CliReadOnlyStoreTest, AWalWithoutItsShmIsRefusedNotIgnored) {
    auto db = db::Database::open(db::StateDir(live_));
    ASSERT_TRUE(db) << db.error();
    db->exec("PRAGMA wal_autocheckpoint = 0");
    const db::StateDir dir(live_);
    db::AuditLog(*db, &dir, false).record(db::AuditEvent{"admin.user.add", "ops", "", {}});
    const fs::path state = snapshot("no-shm");
    fs::remove(state / "portcullis.db-shm");
    ASSERT_GT(fs::file_size(state / "portcullis.db-wal"), 0u);
    remountReadOnly();
    const auto r = cli(state, {"audit", "verify"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("read-only file system"));
    EXPECT_THAT(r.err, HasSubstr("copy the state directory to a writable place"));
    // Control: the copy it asks for reads.
    const fs::path copy = tmp_.path() / "copy";
    ASSERT_EQ(runProcess({"cp", "-a", state.string(), copy.string()}).exitCode, 0);
    EXPECT_EQ(cli(copy, {"session", "list"}).exitCode, 0);
}

}  // namespace
}  // namespace portcullis::test
