// Issue 13: `session show` omitted the exec command line, and an sftp
// channel could only be played as its binary SFTP stream. Through the real
// gateway, a real sshd and the stock ssh and sftp clients: show names each
// exec channel's command, lists an sftp channel's file operations (decoded
// from the sftp.* audit events, with their channel), and `play` / `export
// --format text` of an sftp channel show that list instead of the stream;
// the raw stream is still exported byte for byte (the control).
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/cli_runner.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

class CliSessionChannelsTest : public SingleTargetTest {
  protected:
    ProcessResult cli(std::vector<std::string> args) {
        return runCli(gw_->stateDir().root(), std::move(args));
    }
    json cliJson(std::vector<std::string> args) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return json::parse(r.out, nullptr, false);
    }
    // The sessions, once every one has ended and its recordings are sealed.
    json endedSessions(std::size_t count) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        json sessions;
        while (std::chrono::steady_clock::now() < deadline) {
            sessions = cliJson({"session", "list"});
            bool done = sessions.size() == count;
            for (const auto& s : sessions) done = done && s["status"] != "active";
            if (done) return sessions;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ADD_FAILURE() << "sessions did not end: " << sessions.dump();
        return sessions;
    }
};

TEST_F(CliSessionChannelsTest, ShowNamesExecCommandsAndSftpOperations) {
    setUpTarget("erin");
    gw_->grant("erin", "box", {}, "shell,exec,sftp");
    gw_->start();
    const fs::path remote = gw_->dir() / "remote";
    fs::create_directories(remote);

    SshCall exec;
    exec.user = "erin:box";
    exec.key = key_;
    exec.code = gw_->code("erin", -1);
    exec.command = "echo hello-from-exec";
    auto r = gw_->ssh(exec);
    ASSERT_EQ(r.exitCode, 0) << describe(r);

    writeFile(gw_->dir() / "up.txt", std::string(5000, 'u'), 0600);
    writeFile(gw_->dir() / "batch",
              "put " + (gw_->dir() / "up.txt").string() + " " + (remote / "up.txt").string() +
                  "\nrename " + (remote / "up.txt").string() + " " +
                  (remote / "moved.txt").string() + "\nmkdir " + (remote / "newdir").string() +
                  "\nrm " + (remote / "moved.txt").string() + "\n",
              0600);
    ProcessOptions options;
    options.env = gw_->sshEnv(gw_->askpass(gw_->code("erin")));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    r = runProcess({"sftp",
                    "-P",
                    std::to_string(gw_->port()),
                    "-i",
                    key_.string(),
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "IdentityAgent=none",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "BatchMode=no",
                    "-o",
                    "User=erin:box",
                    "-b",
                    (gw_->dir() / "batch").string(),
                    "127.0.0.1"},
                   options);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    ASSERT_TRUE(fs::exists(remote / "newdir"));

    const json sessions = endedSessions(2);
    ASSERT_EQ(sessions.size(), 2u);
    const std::string execId = sessions[0]["id"];
    const std::string sftpId = sessions[1]["id"];

    // The exec channel: its command line, in text and JSON (by an id prefix).
    r = cli({"session", "show", execId.substr(0, 8)});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("channel 1: command: echo hello-from-exec"));
    json show = cliJson({"session", "show", execId});
    ASSERT_EQ(show["recordings"].size(), 1u);
    EXPECT_EQ(show["recordings"][0]["command"], "echo hello-from-exec");
    EXPECT_TRUE(show["recordings"][0]["sftp_operations"].is_null());

    // The sftp channel: the file operations.
    r = cli({"session", "show", sftpId});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("channel 1: sftp, "));
    EXPECT_THAT(r.out, HasSubstr((remote / "up.txt").string()));
    EXPECT_THAT(r.out, HasSubstr("written 5000 bytes"));
    EXPECT_THAT(r.out, HasSubstr(" -> " + (remote / "moved.txt").string()));
    EXPECT_THAT(r.out, HasSubstr("mkdir"));
    EXPECT_THAT(r.out, HasSubstr("remove"));
    show = cliJson({"session", "show", sftpId});
    const auto& ops = show["recordings"][0]["sftp_operations"];
    ASSERT_TRUE(ops.is_array()) << show.dump();
    std::vector<std::string> names;
    for (const auto& op : ops) names.push_back(op["op"]);
    EXPECT_THAT(names, testing::IsSupersetOf({"open", "close", "rename", "mkdir", "remove"}));
    for (const auto& e : gw_->audit("sftp.close"))
        EXPECT_EQ(e.event.details.value("channel", 0), 1);

    // play and export --format text: the list, not the SFTP stream.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"session", "play", sftpId},
          std::vector<std::string>{"session", "export", sftpId, "--format", "text"}}) {
        r = cli(args);
        ASSERT_EQ(r.exitCode, 0) << describe(r);
        EXPECT_THAT(r.out, HasSubstr("sftp, " + std::to_string(ops.size()) + " file operation"));
        EXPECT_THAT(r.out, HasSubstr("written 5000 bytes"));
        for (const char c : r.out) {
            const auto byte = static_cast<unsigned char>(c);
            ASSERT_TRUE(byte == '\n' || byte >= 0x20) << "binary in: " << args[1];
        }
        EXPECT_THAT(r.out, Not(HasSubstr(std::string(100, 'u'))));  // not the uploaded data
    }
    // Control: the raw stream is still there, byte for byte, with the data in it.
    const fs::path raw = gw_->dir() / "stream.bin";
    r = cli({"session", "export", sftpId, "--format", "raw", "--stream", "i", "-o", raw.string()});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(readFile(raw), HasSubstr(std::string(5000, 'u')));
}

}  // namespace
}  // namespace portcullis::test
