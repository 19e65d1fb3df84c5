// The SSH surface of a running portcullisd audited by Debian's ssh-audit 2.5.0
// (SPEC §10, PLATFORM.md "Auditing the SSH surface"): no fail line, and the
// only warn line is the strict-kex marker kex-strict-s-v00@openssh.com that
// 2.5.0 does not know yet (it is how strict kex shows); curve25519 under both
// names, an ed25519 host key only, AEAD ciphers and encrypt-then-MAC only, no
// compression. A run against a stock OpenSSH sshd proves the parsing sees fail
// and warn lines at all. Every call has a deadline.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

constexpr const char* kStrictKexMarker = "kex-strict-s-v00@openssh.com";

// ssh-audit on PATH (Debian installs /usr/bin/ssh-audit), or empty.
std::string sshAuditPath() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(std::string(path ? path : "") + ":/usr/bin:/usr/local/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) continue;
        const auto candidate = std::filesystem::path(dir) / "ssh-audit";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return {};
}

std::string stripAnsi(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
            i += 2;
            while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

// The text report, line by line, sorted into what the assertions need.
struct Report {
    std::vector<std::string> lines;
    std::vector<std::string> fails;  // "[fail]" or "(fail)"
    std::vector<std::string> warns;  // "[warn]" or "(warn)"
    std::vector<std::string> recs;   // "(rec)" recommendations
    std::vector<std::string> cves;   // "(cve)"
    std::vector<std::string> bangs;  // "!!! ..." notices
};

Report parse(const std::string& text) {
    Report r;
    std::stringstream in(stripAnsi(text));
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        r.lines.push_back(line);
        if (contains(line, "[fail]") || contains(line, "(fail)")) r.fails.push_back(line);
        if (contains(line, "[warn]") || contains(line, "(warn)")) r.warns.push_back(line);
        if (line.rfind("(rec)", 0) == 0) r.recs.push_back(line);
        if (line.rfind("(cve)", 0) == 0) r.cves.push_back(line);
        if (line.rfind("!!!", 0) == 0) r.bangs.push_back(line);
    }
    return r;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "  " + l + "\n";
    return out;
}

class SshAuditTest : public ::testing::Test {
  protected:
    void SetUp() override {
        tool_ = sshAuditPath();
        ASSERT_FALSE(tool_.empty())
            << "ssh-audit is not installed (Debian 12: apt-get install ssh-audit; scripts/deps "
               "installs it). This test audits the gateway's SSH surface and cannot run "
               "without it.";
        const auto version = runProcess({tool_, "--help"});
        std::cout << "ssh-audit: " << tool_ << "\n";
        EXPECT_TRUE(contains(stripAnsi(version.out + version.err), "ssh-audit v"))
            << describe(version);
    }

    // ssh-audit with a generous timeout (-t: connection and reads), no colors.
    ProcessResult audit(int port, const std::vector<std::string>& extra) {
        std::vector<std::string> argv{tool_, "-t", "30", "-p", std::to_string(port)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("127.0.0.1");
        ProcessOptions options;
        options.timeout = std::chrono::seconds(90);
        return runProcess(argv, options);
    }

    // The whole check of a running portcullisd; `ciphers` are the expected ones.
    void expectCleanSurface(GatewayFixture& gw, const std::set<std::string>& ciphers) {
        const auto text = audit(gw.port(), {"-n"});
        ASSERT_FALSE(text.timedOut) << describe(text);
        std::cout << text.out;
        const auto report = parse(text.out);
        // It reached the gateway and audited it.
        ASSERT_TRUE(contains(text.out, "(gen) banner: SSH-2.0-Portcullis")) << describe(text);
        ASSERT_TRUE(contains(text.out, "# key exchange algorithms")) << describe(text);

        EXPECT_TRUE(report.fails.empty()) << "fail lines:\n" << join(report.fails);
        ASSERT_EQ(report.warns.size(), 1u)
            << "expected exactly one warn line (the strict-kex marker), got:\n"
            << join(report.warns);
        EXPECT_EQ(report.warns[0].rfind(std::string("(kex) ") + kStrictKexMarker, 0), 0u)
            << report.warns[0];
        EXPECT_TRUE(contains(report.warns[0], "[warn] unknown algorithm")) << report.warns[0];
        EXPECT_TRUE(report.recs.empty()) << "recommendations:\n" << join(report.recs);
        EXPECT_TRUE(report.cves.empty()) << "CVE lines:\n" << join(report.cves);
        for (const auto& bang : report.bangs) {
            // 2.5.0 asks to report the unknown marker; nothing else may appear.
            const auto from = bang.find("found!: ");
            const auto to = bang.find("  Please");
            ASSERT_TRUE(contains(bang, "unknown algorithm") && from != std::string::npos &&
                        to != std::string::npos && to > from)
                << bang;
            EXPECT_EQ(bang.substr(from + 8, to - from - 8), std::string(kStrictKexMarker) + ".")
                << bang;
        }
        EXPECT_TRUE(contains(text.out, "(gen) compression: disabled")) << describe(text);

        // The exact offer, from the JSON report.
        const auto json = audit(gw.port(), {"-j"});
        ASSERT_FALSE(json.timedOut) << describe(json);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(json.out);
        } catch (const std::exception& e) {
            FAIL() << "ssh-audit -j did not print JSON: " << e.what() << "\n" << describe(json);
        }
        std::set<std::string> kex;
        for (const auto& k : j.at("kex")) kex.insert(k.at("algorithm").get<std::string>());
        EXPECT_EQ(kex, (std::set<std::string>{"curve25519-sha256", "curve25519-sha256@libssh.org",
                                              kStrictKexMarker}));
        std::vector<std::string> keys;
        for (const auto& k : j.at("key")) keys.push_back(k.at("algorithm").get<std::string>());
        EXPECT_EQ(keys, std::vector<std::string>{"ssh-ed25519"});
        EXPECT_EQ(j.at("compression").get<std::vector<std::string>>(),
                  std::vector<std::string>{"none"});
        const auto enc = j.at("enc").get<std::vector<std::string>>();
        EXPECT_EQ(std::set<std::string>(enc.begin(), enc.end()), ciphers);
        for (const auto& mac : j.at("mac").get<std::vector<std::string>>()) {
            EXPECT_TRUE(mac.size() > 16 && mac.substr(mac.size() - 16) == "-etm@openssh.com")
                << "not encrypt-then-MAC: " << mac;
        }
        // The host key audited is the gateway's own keys/host_ed25519.
        const auto fp = runProcess(
            {"ssh-keygen", "-l", "-E", "sha256", "-f", gw.stateDir().hostKey().string() + ".pub"});
        ASSERT_EQ(fp.exitCode, 0) << describe(fp);
        bool found = false;
        for (const auto& f : j.at("fingerprints")) {
            EXPECT_EQ(f.value("hostkey", ""), "ssh-ed25519");
            if (f.value("hash_alg", "") == "SHA256")
                found |= contains(fp.out, "SHA256:" + f.value("hash", "?"));
        }
        EXPECT_TRUE(found) << "gateway host key " << fp.out << "not in\n" << json.out;
    }

    std::string tool_;
};

// Issue 12 finding 7 / SPEC §10: the default offer includes aes256-ctr and
// aes128-ctr after the AEAD ciphers (paramiko 2.12 has neither AES-GCM nor
// chacha20-poly1305), and the surface stays clean.
TEST_F(SshAuditTest, DefaultConfigurationPassesSshAudit) {
    GatewayFixture gw;
    gw.start();
    expectCleanSurface(gw, {"aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                            "chacha20-poly1305@openssh.com", "aes256-ctr", "aes128-ctr"});
    EXPECT_TRUE(gw.running());
}

// The documented option for clients without AEAD ciphers (paramiko 2.12):
// aes*-ctr, still with encrypt-then-MAC only, adds no fail or warn either.
TEST_F(SshAuditTest, CtrCompatibilityOptionPassesSshAudit) {
    GatewayFixture gw;
    gw.start(
        "[algorithms]\n"
        "ciphers = aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes128-ctr\n");
    expectCleanSurface(gw, {"aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes256-ctr",
                            "aes128-ctr"});
}

// The parsing is not blind: OpenSSH 9.2's defaults draw fail and warn lines
// (PLATFORM.md: 3 fail and 11 warn with its default host keys).
TEST_F(SshAuditTest, ParserSeesFailAndWarnLinesOfStockSshd) {
    SshdFixture sshd("");
    const auto text = audit(sshd.port(), {"-n"});
    ASSERT_FALSE(text.timedOut) << describe(text);
    ASSERT_TRUE(contains(text.out, "(gen) banner: SSH-2.0-OpenSSH")) << describe(text);
    const auto report = parse(text.out);
    std::cout << "stock sshd: " << report.fails.size() << " fail, " << report.warns.size()
              << " warn lines\n";
    EXPECT_GE(report.fails.size(), 1u) << describe(text);
    EXPECT_GE(report.warns.size(), 1u) << describe(text);
    EXPECT_FALSE(report.recs.empty()) << describe(text);
}

}  // namespace
}  // namespace portcullis::gateway::test
