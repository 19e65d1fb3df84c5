// portcullisd's configuration file (SPEC §10).
#include "gateway/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/process.hpp"

namespace portcullis::gateway {
namespace {

using portcullis::test::TempDir;

class ConfigTest : public ::testing::Test {
  protected:
    Result<void> load(const std::string& text) {
        const auto file = dir_.path() / "portcullisd.ini";
        std::ofstream(file) << text;
        return config_.loadFile(file);
    }
    TempDir dir_{"portcullis-config"};
    Config config_;
};

// Issue 12 finding 6: a limit, lock-out or window of 0s in the file switched
// the control off (lockout = 0s never locked, max_session = 0s was "no
// ceiling"). Each is refused at start with FILE:LINE.
TEST_F(ConfigTest, ZeroLimitsLockoutsAndWindowsAreRefusedWithTheLine) {
    const char* keys[][2] = {
        {"limits", "login_grace_time"}, {"limits", "upstream_timeout"},
        {"limits", "max_session"},      {"limits", "idle_timeout"},
        {"limits", "recheck_interval"}, {"limits", "unused_connection_timeout"},
        {"lockout", "lockout"},         {"lockout", "source_window"}};
    for (const auto& [section, key] : keys) {
        for (const char* zero : {"0s", "0m", "0d", "0h0m"}) {
            Config fresh;
            config_ = fresh;
            const auto ok =
                load("# a comment\n[" + std::string(section) + "]\n" + key + " = " + zero + "\n");
            ASSERT_FALSE(ok) << key << " = " << zero;
            EXPECT_NE(ok.error().find("portcullisd.ini:3: " + std::string(key)), std::string::npos)
                << ok.error();
            EXPECT_NE(ok.error().find("more than 0s"), std::string::npos) << ok.error();
        }
        // A negative value is no duration at all.
        const auto negative = load("[" + std::string(section) + "]\n" + key + " = -5m\n");
        EXPECT_FALSE(negative) << key;
    }
    const auto delay = load("[limits]\nauth_failure_delay_ms = 0\n");
    ASSERT_FALSE(delay);
    EXPECT_NE(delay.error().find(":2:"), std::string::npos) << delay.error();
}

// The positive control: the same keys with real values load.
TEST_F(ConfigTest, PositiveValuesLoad) {
    ASSERT_TRUE(
        load("[limits]\nmax_session = 8h\nidle_timeout = 30m\nunused_connection_timeout = "
             "2m\n[lockout]\nlockout = 1m\nsource_window = 90s\n"))
        << "";
    EXPECT_EQ(config_.ceiling.maxSession, Seconds(8 * 3600));
    EXPECT_EQ(config_.unusedConnectionTimeout, Seconds(120));
    EXPECT_EQ(config_.guard.lockout, Seconds(60));
    EXPECT_EQ(config_.guard.sourceWindow, Seconds(90));
}

// Issue 12 finding 7: the default offer serves clients without AEAD ciphers
// (paramiko 2.12) with aes*-ctr, after the AEAD ciphers, and only
// encrypt-then-MAC MACs.
TEST_F(ConfigTest, DefaultCiphersOfferCtrAfterTheAeadCiphers) {
    const std::string ciphers = Config{}.ciphers;
    EXPECT_EQ(ciphers.find("aes256-gcm@openssh.com"), 0u);
    const auto ctr = ciphers.find("aes256-ctr");
    ASSERT_NE(ctr, std::string::npos);
    EXPECT_LT(ciphers.find("chacha20-poly1305@openssh.com"), ctr);
    EXPECT_NE(ciphers.find("aes128-ctr"), std::string::npos);
    EXPECT_EQ(Config{}.macs, "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com");
    EXPECT_TRUE(Config{}.validate());
}

// The shipped example holds every key at its default: it loads as is.
TEST_F(ConfigTest, ShippedExampleLoads) {
    const auto ok =
        config_.loadFile(std::string(PORTCULLIS_SOURCE_DIR) + "/gateway/portcullisd.ini.example");
    EXPECT_TRUE(ok) << ok.error();
    EXPECT_EQ(config_.ciphers, Config{}.ciphers);
}

}  // namespace
}  // namespace portcullis::gateway
