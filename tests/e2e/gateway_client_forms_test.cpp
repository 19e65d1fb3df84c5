// The client forms the guides document (issue 13: sftp/scp cannot take
// `alice:cosigner-1@gw`; one code per connection), tested as written: the
// ssh_config block is read from docs/operator-guide.md and README.md, only
// its host, port, key and socket paths put in, and then the stock ssh, scp,
// sftp, rsync and git run through it against the real gateway and a real sshd.
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SshdFixture;
using portcullis::test::writeFile;

std::string readText(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The ```sshconfig block that follows the "tested as written" marker.
std::string documentedBlock(const std::string& doc) {
    const auto text = readText(std::filesystem::path(PORTCULLIS_SOURCE_DIR) / doc);
    const auto marker = text.find("tested as written by tests/e2e/gateway_client_forms_test.cpp");
    if (marker == std::string::npos) return {};
    const auto open = text.find("```sshconfig\n", marker);
    const auto close = text.find("```", open + 13);
    if (open == std::string::npos || close == std::string::npos) return {};
    return text.substr(open + 13, close - open - 13);
}

class ClientFormsTest : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        gw_ = std::make_unique<GatewayFixture>();
        sshd_ = std::make_unique<SshdFixture>(gw_->upstreamPublicKey());
        gw_->addTarget("cosigner-1", sshd_->port(), "root", sshd_->hostKeyLine());
        key_ = gw_->newKey("alice");
        gw_->addUser("alice", key_.string() + ".pub");
        gw_->grant("alice", "cosigner-1", {}, "shell,exec,sftp");
        gw_->start();
        work_ = gw_->dir() / "work";
        std::filesystem::create_directories(work_ / "conf");
        writeFile(work_ / "conf" / "cosigner.toml", "threshold = 2\n", 0600);
        writeFile(work_ / "backup.tar", std::string(100000, 'b'), 0600);
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- portcullisd log ----\n" << gw_->log() << "\n";
    }
    ProcessResult run(const std::vector<std::string>& argv, const std::string& code,
                      std::map<std::string, std::string> env = {}) {
        ProcessOptions options;
        options.env = gw_->sshEnv(gw_->askpass(code));
        options.env.insert(env.begin(), env.end());
        options.unsetEnv = {"SSH_AUTH_SOCK"};
        options.newSession = true;
        options.timeout = std::chrono::seconds(60);
        options.workDir = work_;
        return runProcess(argv, options);
    }
    // The documented block with this machine's host, port, key and socket path.
    std::filesystem::path config(const std::string& block) {
        std::string text = block;
        auto put = [&](const std::string& from, const std::string& to) {
            const auto at = text.find(from);
            ASSERT_NE(at, std::string::npos) << from << " is not in the documented block";
            text.replace(at, from.size(), to);
        };
        put("HostName gw.example.com", "HostName 127.0.0.1");
        put("Port 2222", "Port " + std::to_string(gw_->port()));
        put("IdentityFile ~/.ssh/id_ed25519", "IdentityFile " + key_.string());
        put("ControlPath ~/.ssh/cm-%C", "ControlPath " + (gw_->dir() / "cm-%C").string());
        // What only the test harness needs (no agent, no known_hosts, askpass).
        text +=
            "Host *\n    IdentitiesOnly yes\n    IdentityAgent none\n    StrictHostKeyChecking "
            "no\n    UserKnownHostsFile /dev/null\n    BatchMode no\n    LogLevel ERROR\n";
        const auto file = gw_->dir() / "ssh_config";
        writeFile(file, text, 0600);
        return file;
    }
    std::size_t codeChecks() {
        std::size_t n = 0;
        for (const auto& e : gw_->audit("auth.totp"))
            n += e.event.details.value("account", "") == "alice";
        return n;
    }

    std::unique_ptr<GatewayFixture> gw_;
    std::unique_ptr<SshdFixture> sshd_;
    std::filesystem::path key_;
    std::filesystem::path work_;
};

TEST_P(ClientFormsTest, DocumentedFormsWorkAsWritten) {
    const auto block = documentedBlock(GetParam());
    ASSERT_FALSE(block.empty()) << GetParam() << " has no tested ssh_config block";
    const auto port = std::to_string(gw_->port());
    const auto remote = gw_->dir() / "remote";
    std::filesystem::create_directories(remote);

    // Without a config: the user name through -o User= (step -1 of the codes).
    writeFile(work_ / "batch", "put backup.tar " + remote.string() + "/via-sftp.tar\n", 0600);
    auto r = run({"sftp",
                  "-P",
                  port,
                  "-o",
                  "User=alice:cosigner-1",
                  "-o",
                  "BatchMode=no",
                  "-o",
                  "IdentitiesOnly=yes",
                  "-o",
                  "IdentityAgent=none",
                  "-i",
                  key_.string(),
                  "-o",
                  "StrictHostKeyChecking=no",
                  "-o",
                  "UserKnownHostsFile=/dev/null",
                  "-b",
                  "batch",
                  "127.0.0.1"},
                 gw_->code("alice", -1));
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(std::filesystem::exists(remote / "via-sftp.tar"));

    // The Host block: key and code once, then everything over the shared connection.
    const auto cfg = config(block).string();
    r = run({"ssh", "-F", cfg, "cosigner-1", "uptime"}, gw_->code("alice"));
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "load average")) << r.out;
    // From here on askpass would answer a wrong code: none is asked.
    const std::string wrong = "000000";
    r = run({"scp", "-F", cfg, "backup.tar", "cosigner-1:" + remote.string() + "/"}, wrong);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(std::filesystem::file_size(remote / "backup.tar"), 100000u);
    writeFile(work_ / "batch2", "get " + remote.string() + "/backup.tar back.tar\n", 0600);
    r = run({"sftp", "-F", cfg, "-b", "batch2", "cosigner-1"}, wrong);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(std::filesystem::file_size(work_ / "back.tar"), 100000u);
    r = run({"rsync", "-a", "-e", "ssh -F " + cfg, "./conf/",
             "cosigner-1:" + remote.string() + "/conf/"},
            wrong);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(std::filesystem::exists(remote / "conf" / "cosigner.toml"));
    ASSERT_EQ(
        runProcess({"git", "init", "-q", "--bare", (remote / "cosigner.git").string()}).exitCode,
        0);
    r = run({"git", "clone", "-q", "cosigner-1:" + (remote / "cosigner.git").string(), "clone"},
            wrong, {{"GIT_SSH_COMMAND", "ssh -F " + cfg}});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(std::filesystem::exists(work_ / "clone" / ".git"));
    r = run({"ssh", "-F", cfg, "-O", "exit", "cosigner-1"}, wrong);
    EXPECT_EQ(r.exitCode, 0) << describe(r);

    // One code for the sftp above and one for the whole shared connection.
    for (int i = 0; i < 100 && codeChecks() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(codeChecks(), 2u);

    // scp without a config, the other documented form (step +1).
    r = run({"scp", "-P", port, "-o", "User=alice:cosigner-1", "-o", "IdentitiesOnly=yes", "-o",
             "IdentityAgent=none", "-i", key_.string(), "-o", "StrictHostKeyChecking=no", "-o",
             "UserKnownHostsFile=/dev/null", "backup.tar",
             "127.0.0.1:" + remote.string() + "/via-scp.tar"},
            gw_->code("alice", 1));
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(std::filesystem::exists(remote / "via-scp.tar"));
}

INSTANTIATE_TEST_SUITE_P(Guides, ClientFormsTest,
                         ::testing::Values("docs/operator-guide.md", "README.md"),
                         [](const auto& info) {
                             return std::string(info.param).find("README") != std::string::npos
                                        ? std::string("Readme")
                                        : std::string("OperatorGuide");
                         });

}  // namespace
}  // namespace portcullis::gateway::test
