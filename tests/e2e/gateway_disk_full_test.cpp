// Issue 13, "disk nearly full", end to end on a real tiny tmpfs holding the
// whole state directory (store, audit.log, recordings): a live session whose
// disk fills up is ended with the recording failure as its end reason; a login
// while the disk is full is answered within a bound with the store-unavailable
// message (never a hang); the connection's store jobs (recording.failed, the
// seal, session.end, the refused login's audit) are kept and written, in
// order, once space is freed; the session is not left `active`; afterwards
// logins work and the chain and its mirror verify.
#include <sys/mount.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/sessions.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

namespace fs = std::filesystem;
using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SshCall;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

class DiskFullTest : public portcullis::test::SingleTargetTest {
  protected:
    static constexpr const char* kUser = "dana";

    void SetUp() override {
        setUpTarget(kUser);
        for (const char* name : {"late", "after"}) {
            keys_[name] = gw_->newKey(name);
            gw_->addUser(name, keys_[name].string() + ".pub");
            gw_->grant(name, "box");
        }
    }
    void TearDown() override {
        if (mounted_) ::umount2(gw_->stateDir().root().c_str(), MNT_DETACH);
        SingleTargetTest::TearDown();
    }

    // The state directory, as the fixture made it, moved onto a tmpfs of `size`.
    bool moveStateToTmpfs(const std::string& size) {
        const auto root = gw_->stateDir().root();
        const auto copy = gw_->dir() / "state-copy";
        if (runProcess({"cp", "-a", root.string(), copy.string()}).exitCode != 0) return false;
        const std::string options = "size=" + size + ",mode=0700";
        if (::mount("tmpfs", root.c_str(), "tmpfs", 0, options.c_str()) != 0) return false;
        mounted_ = true;
        return runProcess({"cp", "-a", copy.string() + "/.", root.string()}).exitCode == 0;
    }
    // The fixture's own store handle predates the mount: read through a new one.
    db::Database& store() {
        if (!store_) {
            auto opened = db::Database::open(gw_->stateDir());
            if (!opened) throw std::runtime_error(opened.error());
            store_.emplace(std::move(opened).value());
        }
        return *store_;
    }
    std::vector<db::AuditRecord> audit(const std::string& type) {
        db::AuditLog log(store(), nullptr, false);
        db::AuditFilter filter;
        filter.type = type;
        filter.limit = 10000;
        return log.list(filter);
    }
    SshCall call(const std::string& account, const std::string& command, const std::string& code) {
        SshCall c;
        c.user = account + ":box";
        c.key = account == kUser ? key_ : keys_.at(account);
        c.command = command;
        c.code = code;
        c.timeout = 60s;
        c.logLevel = "INFO";  // the gateway's banner lines
        return c;
    }
    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    }
    bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds bound) {
        const auto end = Clock::now() + bound;
        while (Clock::now() < end) {
            if (done()) return true;
            std::this_thread::sleep_for(100ms);
        }
        return done();
    }

    std::map<std::string, fs::path> keys_;
    bool mounted_ = false;
    std::optional<db::Database> store_;
};

TEST_F(DiskFullTest, AFullDiskEndsTheSessionByItsCauseNeverHangsALoginAndLosesNoEvent) {
    if (!moveStateToTmpfs("2m")) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
    const auto root = gw_->stateDir().root();
    // One store worker: a sequence waiting for space must not hold it.
    gw_->start("[server]\ndb_workers = 1\n");

    // Positive control: the gateway works on this disk.
    const auto before = gw_->ssh(call("after", "echo before-ok", gw_->code("after")));
    ASSERT_EQ(before.exitCode, 0) << describe(before);
    EXPECT_EQ(before.out, "before-ok\n");

    // A live session that keeps printing.
    auto live = std::async(std::launch::async, [&] {
        return gw_->ssh(call(kUser,
                             "echo started; while :; do head -c 6000 /dev/urandom | base64; "
                             "sleep 0.05; done",
                             gw_->code(kUser)));
    });
    std::string id;
    ASSERT_TRUE(waitFor(
        [&] {
            for (const auto& s : db::Sessions(store()).list({}))
                if (s.account == kUser && s.status == "active") id = s.id;
            return !id.empty();
        },
        20s))
        << gw_->log();
    std::this_thread::sleep_for(500ms);

    // The disk fills up (another program's file), to the last block.
    const auto filler = root / "filler";
    runProcess({"sh", "-c", "cat /dev/zero > '" + filler.string() + "' 2>/dev/null"});
    ASSERT_EQ(live.wait_for(20s), std::future_status::ready) << "the session did not end";
    const auto ended = live.get();
    EXPECT_EQ(ended.exitCode, 255) << describe(ended);
    EXPECT_TRUE(contains(ended.err, "cannot be recorded")) << describe(ended);

    // A login while the disk is full: refused within a bound, told why.
    const auto loginStart = Clock::now();
    const auto during = gw_->ssh(call("late", "echo should-not-run", gw_->code("late")));
    const double took = secondsSince(loginStart);
    std::cerr << "[ info ] login on the full disk: exit " << during.exitCode << " after " << took
              << " s\n";
    EXPECT_FALSE(during.timedOut) << describe(during);
    EXPECT_LT(took, 15.0) << describe(during);
    EXPECT_NE(during.exitCode, 0) << describe(during);
    EXPECT_FALSE(contains(during.out, "should-not-run"));
    EXPECT_TRUE(contains(during.err, "cannot use its store right now")) << describe(during);
    // Nothing of the session's end reached the store yet (the disk is full).
    EXPECT_EQ(db::Sessions(store()).find(id)->status, "active");

    // Space is freed: what the store could not take is written, in order.
    fs::remove(filler);
    std::optional<db::SessionRecord> row;
    EXPECT_TRUE(waitFor(
        [&] {
            row = db::Sessions(store()).find(id);
            return row && row->status != "active";
        },
        30s))
        << "the session stayed active after space was freed\n"
        << gw_->log();
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->status, "failed");
    EXPECT_THAT(row->endReason, HasSubstr("recording failed"));
    EXPECT_THAT(row->endReason, HasSubstr("No space left on device"));

    const auto idOf = [&](const std::string& type) -> std::int64_t {
        for (const auto& r : audit(type))
            if (r.event.details.value("session_id", "") == id) return r.id;
        return 0;
    };
    std::int64_t failed = 0, sealed = 0, end = 0;
    EXPECT_TRUE(waitFor(
        [&] {
            failed = idOf("recording.failed");
            sealed = idOf("session.recording");
            end = idOf("session.end");
            return failed && sealed && end;
        },
        20s))
        << "recording.failed " << failed << ", seal " << sealed << ", session.end " << end;
    EXPECT_LT(failed, end) << "the failure is written before the end it caused";
    for (const auto& r : audit("session.end")) {
        if (r.event.details.value("session_id", "") != id) continue;
        EXPECT_EQ(r.event.details.value("status", ""), "failed");
        EXPECT_THAT(r.event.details.value("reason", ""), HasSubstr("recording failed"));
    }
    // The refused login is in the chain too.
    bool lateAudited = false;
    EXPECT_TRUE(waitFor(
        [&] {
            for (const auto& r : audit("auth.*"))
                if (r.event.details.value("account", "") == "late" &&
                    r.event.details.value("reason", "") == "store_unavailable")
                    lateAudited = true;
            return lateAudited;
        },
        20s));
    EXPECT_TRUE(contains(gw_->log(), "event=db.full_recovered")) << gw_->log();

    // Afterwards: logins work, and the chain and its mirror agree.
    const auto after =
        gw_->ssh(call("after", "echo after-ok", gw_->recoveryCodes("after").front()));
    EXPECT_EQ(after.exitCode, 0) << describe(after);
    EXPECT_EQ(after.out, "after-ok\n");
    const auto verify = cli({"audit", "verify"});
    EXPECT_EQ(verify.exitCode, 0) << describe(verify);
    EXPECT_TRUE(gw_->running());
}

}  // namespace
}  // namespace portcullis::gateway::test
