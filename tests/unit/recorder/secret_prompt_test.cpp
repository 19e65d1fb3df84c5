// gateway/secret_prompt: which prompts count as password-like, and which
// input bytes are hidden input (issue 12 finding 8), plus the `[recording]`
// configuration keys.
#include "gateway/secret_prompt.hpp"

#include <gtest/gtest.h>

#include "gateway/config.hpp"
#include "tests/support/process.hpp"

namespace portcullis::gateway {
namespace {

std::shared_ptr<const SecretPromptPattern> defaults() {
    auto p = SecretPromptPattern::compile(kDefaultSecretPrompts);
    EXPECT_TRUE(p.ok());
    return std::move(p).value();
}

// Issue 12 finding 8: the prompts of read -s, sudo, su, ssh-keygen, PIV cards.
TEST(SecretPromptPattern, DefaultMatchesPasswordLikePrompts) {
    const auto p = defaults();
    for (const char* prompt :
         {"Vault passphrase: ", "[sudo] password for root: ", "Password:", "password: ",
          "PASSWORD: ", "root@cosigner's password: ", "Enter passphrase for key '/root/.ssh/id': ",
          "Enter PIN for 'PIV Card Holder pin (PIV_II)': ", "Enter PIN:", "New password: ",
          "Retype new password: ", "(current) UNIX password: ", "Passcode: ",
          "Enter new passphrase (empty for no passphrase): "}) {
        EXPECT_TRUE(p->matches(prompt)) << prompt;
    }
}

// Positive control's counterpart: ordinary shell prompts and output do not.
TEST(SecretPromptPattern, DefaultIgnoresOrdinaryLines) {
    const auto p = defaults();
    for (const char* line :
         {"root@box:~# ", "root@box:~/password-store# ", "$ ", "Spinning up:", "Passwords: 3",
          "password changed", "Password: ok", "opinion: ", "ls password.txt", ""}) {
        EXPECT_FALSE(p->matches(line)) << line;
    }
}

TEST(SecretPromptPattern, RefusesBadOrEmptyOrHugePatterns) {
    EXPECT_FALSE(SecretPromptPattern::compile("(unclosed").ok());
    EXPECT_FALSE(SecretPromptPattern::compile("").ok());
    EXPECT_FALSE(SecretPromptPattern::compile(std::string(2000, 'a')).ok());
    const auto custom = SecretPromptPattern::compile("token>");
    ASSERT_TRUE(custom.ok());
    EXPECT_TRUE((*custom)->matches("API TOKEN>"));  // case-insensitive, at the end
    EXPECT_FALSE((*custom)->matches("token> x"));
}

TEST(HiddenInputTracker, InputAtAPromptIsHiddenUpToTheEnter) {
    HiddenInputTracker t(defaults());
    t.output("$ read -s -p 'Vault passphrase: ' x\r\n");
    EXPECT_EQ(t.input("ls"), 0u);  // the shell line above is no prompt
    t.output("Vault passphrase: ");
    EXPECT_EQ(t.input("s3"), 2u);
    EXPECT_TRUE(t.hidden());
    t.output("**");  // an echo of stars does not end it
    EXPECT_EQ(t.input("cr"), 2u);
    EXPECT_EQ(t.input("et\rnext"), 2u);  // the Enter and what follows are in clear
    EXPECT_FALSE(t.hidden());
    // The answered prompt does not count again until one is printed anew.
    EXPECT_EQ(t.input("more"), 0u);
    t.output("\r\nVault passphrase: ");
    EXPECT_EQ(t.input("x\n"), 1u);
}

TEST(HiddenInputTracker, CtrlCAndCtrlDEndHiddenInput) {
    HiddenInputTracker t(defaults());
    t.output("[sudo] password for root: ");
    EXPECT_EQ(t.input("abc\x03rest"), 3u);
    EXPECT_FALSE(t.hidden());
    t.output("\r\n[sudo] password for root: ");
    EXPECT_EQ(t.input("\x04"), 0u);
    EXPECT_FALSE(t.hidden());
}

TEST(HiddenInputTracker, EscapeSequencesAndSplitOutputAreSeenThrough) {
    HiddenInputTracker t(defaults());
    t.output("\x1b]0;title\x07\x1b[1;31mPass");
    t.output("word\x1b[0m: \x1b[K");
    EXPECT_EQ(t.line(), "Password: ");
    EXPECT_EQ(t.input("pw"), 2u);
}

// Bulk output is not scanned byte by byte: only what follows its last line
// break counts, and a line break ends an escape sequence left open.
TEST(HiddenInputTracker, OnlyTheLastLineOfBulkOutputCounts) {
    HiddenInputTracker t(defaults());
    t.output(std::string(1 << 20, 'y') + "\x1b]0;never ended\r\nPassword: ");
    EXPECT_EQ(t.line(), "Password: ");
    EXPECT_EQ(t.input("pw\r"), 2u);
    t.output("Password: \r\nok\r\n$ ");
    EXPECT_EQ(t.input("ls\r"), 0u);
}

TEST(HiddenInputTracker, WithoutAPatternNothingIsHidden) {
    HiddenInputTracker t(nullptr);
    t.output("Password: ");
    EXPECT_EQ(t.input("pw"), 0u);
}

TEST(HiddenInputTracker, TheLineIsBounded) {
    HiddenInputTracker t(defaults());
    t.output(std::string(100000, 'x'));
    EXPECT_LE(t.line().size(), kPromptTail);
    t.output(" password: ");
    EXPECT_EQ(t.input("a"), 1u);
}

class RecordingConfigTest : public ::testing::Test {
  protected:
    Result<void> load(const std::string& text) {
        const auto file = dir_.path() / "portcullisd.ini";
        test::writeFile(file, text, 0600);
        return config_.loadFile(file);
    }
    test::TempDir dir_;
    Config config_;
};

TEST_F(RecordingConfigTest, DefaultsSealSecretsWithTheDefaultPattern) {
    EXPECT_EQ(config_.recording.input, RecordingInput::sealedSecrets);
    ASSERT_TRUE(config_.recording.secretPrompts);
    EXPECT_EQ(config_.recording.secretPrompts->text(), kDefaultSecretPrompts);
}

TEST_F(RecordingConfigTest, InputModesAndPatternAreRead) {
    ASSERT_TRUE(
        load("[recording]\ninput = none\nsecret_prompts = (pin|token)[^:]*:[[:space:]]*\n").ok());
    EXPECT_EQ(config_.recording.input, RecordingInput::none);
    EXPECT_TRUE(config_.recording.secretPrompts->matches("Token: "));
    EXPECT_FALSE(config_.recording.secretPrompts->matches("Password: "));
    ASSERT_TRUE(load("[recording]\ninput = all\n").ok());
    EXPECT_EQ(config_.recording.input, RecordingInput::all);
    ASSERT_TRUE(load("[recording]\ninput = sealed-secrets\n").ok());
    EXPECT_EQ(config_.recording.input, RecordingInput::sealedSecrets);
}

TEST_F(RecordingConfigTest, BadValuesAreRefusedWithTheirLine) {
    const auto mode = load("[recording]\ninput = some\n");
    ASSERT_FALSE(mode.ok());
    EXPECT_NE(mode.error().find(":2: input"), std::string::npos) << mode.error();
    const auto pattern = load("[recording]\n\nsecret_prompts = (oops\n");
    ASSERT_FALSE(pattern.ok());
    EXPECT_NE(pattern.error().find(":3: secret_prompts"), std::string::npos) << pattern.error();
    EXPECT_FALSE(load("[recording]\nunknown = 1\n").ok());
}

}  // namespace
}  // namespace portcullis::gateway
