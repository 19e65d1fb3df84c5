// End-to-end tests of issue 12 finding 8: input typed at a password-like
// prompt of a recorded shell is sealed, never in clear in the recording,
// search or export; `session reveal` decrypts one entry, audited; and
// `[recording] input = none|all`. The stock ssh client on a real pty through
// the real portcullisd to a real sshd whose root shell is bash.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "db/recordings.hpp"
#include "recording/hidden_input.hpp"
#include "recording/recording_reader.hpp"
#include "tests/e2e/support/pty_session.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

namespace fs = std::filesystem;
using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessResult;
using portcullis::test::PtySession;
using portcullis::test::readFile;
using portcullis::test::runProcess;
using portcullis::test::SshCall;
using portcullis::test::writeFile;

class HiddenInputTest : public portcullis::test::SingleTargetTest {
  protected:
    static constexpr const char* kUser = "hid1";

    void SetUp() override { setUpTarget(kUser); }

    // An interactive shell on the target, at its prompt.
    std::unique_ptr<PtySession> openShell() {
        SshCall c;
        c.user = std::string(kUser) + ":box";
        c.key = key_;
        c.code = gw_->code(kUser);
        auto argv = gw_->sshArgs(c);
        argv.insert(argv.begin() + 1, "-tt");
        auto env = gw_->sshEnv(gw_->askpass(c.code));
        env["TERM"] = "xterm";
        auto shell =
            std::make_unique<PtySession>(argv, env, std::vector<std::string>{"SSH_AUTH_SOCK"});
        EXPECT_TRUE(shell->expect("# ")) << shell->output();
        return shell;
    }
    // Ends the shell and waits for the recording's seal; returns the session.
    std::string closeShell(PtySession& shell) {
        shell.send("exit\r");
        shell.wait();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            std::string id;
            for (const auto& rec : gw_->audit("session.start"))
                id = rec.event.details.value("session_id", "");
            for (const auto& rec : gw_->audit("session.recording"))
                if (!id.empty() && rec.event.details.value("session_id", "") == id) return id;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ADD_FAILURE() << "no sealed recording";
        return "";
    }
    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    }
    fs::path castFile(const std::string& session) {
        const auto rows = db::Recordings(gw_->db()).forSession(session);
        if (rows.empty()) return {};
        return gw_->stateDir().root() / rows.front().path;
    }
    struct Cast {
        std::string input;
        std::string output;
        std::vector<std::int64_t> placeholders;  // 1-based event numbers
        int inputEvents = 0;
    };
    Cast readCast(const fs::path& file) {
        Cast cast;
        std::int64_t index = 0;
        const auto summary =
            recording::readRecording(file, [&](const recording::RecordingEvent& e) {
                ++index;
                if (e.stream == 'i') {
                    ++cast.inputEvents;
                    cast.input += e.data;
                    if (recording::isHiddenInputPlaceholder(e.data))
                        cast.placeholders.push_back(index);
                } else if (e.stream == 'o') {
                    cast.output += e.data;
                }
                return true;
            });
        EXPECT_TRUE(summary.ok());
        return cast;
    }
    // Reveals every placeholder of the session, in order, and joins them.
    std::string revealAll(const std::string& session, const Cast& cast) {
        std::string secret;
        for (const auto n : cast.placeholders) {
            const auto r = cli({"session", "reveal", session, "--event", std::to_string(n)});
            EXPECT_EQ(r.exitCode, 0) << describe(r);
            EXPECT_TRUE(contains(r.err, "WARNING")) << describe(r);
            if (!r.out.empty()) secret += r.out.substr(0, r.out.size() - 1);  // its newline
        }
        return secret;
    }
};

// Issue 12 finding 8: `read -s -p 'Vault passphrase: '` and a typed secret.
// The target gets it; the recording, search and export never show it, only
// the placeholder; `session reveal` returns it and is audited; text typed at
// a normal prompt stays searchable (the positive control); stock asciinema
// still plays the file.
TEST_F(HiddenInputTest, PassphraseAtReadSilentIsSealedAndRevealedOnlyOnRequest) {
    const std::string secret = "S3cr3t-Vault-42";
    gw_->start();
    auto shell = openShell();
    shell->send("read -s -p 'Vault passphrase: ' x; echo; echo got-${#x}-chars\r");
    ASSERT_TRUE(shell->expect("chars\r\n")) << shell->output();  // the command's echo
    ASSERT_TRUE(shell->expect("Vault passphrase: ")) << shell->output();
    shell->send(secret + "\r");
    ASSERT_TRUE(shell->expect("got-15-chars")) << shell->output();
    shell->send("echo typed-in-clear-$((2*21))\r");
    ASSERT_TRUE(shell->expect("typed-in-clear-42")) << shell->output();
    const auto id = closeShell(*shell);
    ASSERT_FALSE(id.empty());

    const auto file = castFile(id);
    const auto raw = readFile(file);
    EXPECT_FALSE(contains(raw, secret)) << "the secret is in the .cast in clear";
    EXPECT_FALSE(contains(raw, "Vault-42"));
    const auto cast = readCast(file);
    ASSERT_FALSE(cast.placeholders.empty()) << cast.input;
    EXPECT_TRUE(contains(cast.input, "[hidden input, ")) << cast.input;
    EXPECT_TRUE(contains(cast.input, "echo typed-in-clear-$((2*21))")) << cast.input;

    // Search and export: nothing of the secret; the normal prompt's input is found.
    const auto found = cli({"session", "search", "S3cr3t"});
    EXPECT_EQ(found.exitCode, 1) << describe(found);
    EXPECT_FALSE(contains(found.out, secret));
    const auto control = cli({"session", "search", "typed-in-clear-[$][(][(]2"});
    EXPECT_EQ(control.exitCode, 0) << describe(control);
    EXPECT_TRUE(contains(control.out, id)) << describe(control);
    const auto text = cli({"session", "export", id, "--format", "text"});
    EXPECT_EQ(text.exitCode, 0) << describe(text);
    EXPECT_FALSE(contains(text.out, secret)) << describe(text);
    EXPECT_TRUE(contains(text.out, "got-15-chars")) << describe(text);
    const auto exported = cli({"session", "export", id, "--format", "cast"});
    EXPECT_EQ(exported.exitCode, 0) << describe(exported);
    EXPECT_FALSE(contains(exported.out, secret));
    EXPECT_TRUE(contains(exported.out, "[hidden input, "));

    // The sidecar: mode 0600, no plaintext.
    const fs::path sidecar(file.string() + ".secrets");
    struct stat st {};
    ASSERT_EQ(::stat(sidecar.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(contains(readFile(sidecar), secret));

    // An incident: reveal, audited loudly.
    EXPECT_EQ(revealAll(id, cast), secret);
    int reveals = 0;
    for (const auto& rec : gw_->audit("session.reveal")) {
        const auto& d = rec.event.details;
        if (d.value("session_id", "") != id || d.value("result", "") != "revealed") continue;
        ++reveals;
        EXPECT_FALSE(rec.event.actor.empty());
        EXPECT_FALSE(contains(d.dump(), secret));
    }
    EXPECT_EQ(reveals, static_cast<int>(cast.placeholders.size()));
    const auto json = cli(
        {"--json", "session", "reveal", id, "--event", std::to_string(cast.placeholders.front())});
    ASSERT_EQ(json.exitCode, 0) << describe(json);
    const auto parsed = nlohmann::json::parse(json.out);
    EXPECT_EQ(parsed.value("session_id", ""), id);
    EXPECT_EQ(parsed.value("event", 0), cast.placeholders.front());
    EXPECT_TRUE(secret.starts_with(parsed.value("text", "-"))) << json.out;

    // Refusals: an event that is no placeholder (exit 1), no --event (exit 2).
    const auto notHidden = cli({"session", "reveal", id, "--event", "1"});
    EXPECT_EQ(notHidden.exitCode, 1) << describe(notHidden);
    EXPECT_TRUE(notHidden.out.empty());
    const auto usage = cli({"session", "reveal", id});
    EXPECT_EQ(usage.exitCode, 2) << describe(usage);

    // Stock asciinema still plays it (PLATFORM.md: cat needs a terminal).
    const auto played =
        runProcess({"script", "-qec", "asciinema cat " + file.string(), "/dev/null"});
    EXPECT_EQ(played.exitCode, 0) << describe(played);
    EXPECT_TRUE(contains(played.out, "got-15-chars")) << describe(played);
}

// Issue 12 finding 8: a `sudo`-style prompt printed by a script on the target.
TEST_F(HiddenInputTest, SudoStylePromptFromAScriptIsSealed) {
    const auto script = gw_->dir() / "fake-sudo";
    writeFile(script,
              "#!/bin/bash\nprintf '[sudo] password for root: '\nIFS= read -rs pw\necho\n"
              "echo \"sudo-got-${#pw}\"\n",
              0755);
    fs::permissions(gw_->dir(),
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    gw_->start();
    auto shell = openShell();
    shell->send(script.string() + "\r");
    ASSERT_TRUE(shell->expect("[sudo] password for root: ")) << shell->output();
    shell->send("hunter2-sudo\r");
    ASSERT_TRUE(shell->expect("sudo-got-12")) << shell->output();
    const auto id = closeShell(*shell);
    ASSERT_FALSE(id.empty());

    EXPECT_FALSE(contains(readFile(castFile(id)), "hunter2"));
    const auto found = cli({"session", "search", "hunter2"});
    EXPECT_EQ(found.exitCode, 1) << describe(found);
    const auto control = cli({"session", "search", "sudo-got-12"});
    EXPECT_EQ(control.exitCode, 0) << describe(control);
    EXPECT_EQ(revealAll(id, readCast(castFile(id))), "hunter2-sudo");
}

// An entry that was edited or moved does not open (exit 1), and the attempt
// is audited; `session prune` deletes the sidecar with its recording.
TEST_F(HiddenInputTest, AnEditedEntryIsRefusedAndPruneDeletesTheSidecar) {
    gw_->start();
    auto shell = openShell();
    shell->send("read -s -p 'PIN: ' x; echo; echo pin-got-${#x}\r");
    ASSERT_TRUE(shell->expect("pin-got-${#x}\r\n")) << shell->output();
    ASSERT_TRUE(shell->expect("PIN: ")) << shell->output();
    shell->send("2468\r");
    ASSERT_TRUE(shell->expect("pin-got-4")) << shell->output();
    const auto id = closeShell(*shell);
    ASSERT_FALSE(id.empty());
    const auto file = castFile(id);
    const auto cast = readCast(file);
    ASSERT_EQ(cast.placeholders.size(), 1u) << cast.input;
    const auto event = std::to_string(cast.placeholders.front());
    // The positive control first: it opens.
    const auto good = cli({"session", "reveal", id, "--event", event});
    ASSERT_EQ(good.exitCode, 0) << describe(good);
    EXPECT_EQ(good.out, "2468\n");

    const fs::path sidecar(file.string() + ".secrets");
    auto text = readFile(sidecar);
    const auto at = text.find("\"sealed\":\"") + 10;
    text[at] = text[at] == 'A' ? 'B' : 'A';  // one bit of the nonce
    writeFile(sidecar, text, 0600);
    const auto edited = cli({"session", "reveal", id, "--event", event});
    EXPECT_EQ(edited.exitCode, 1) << describe(edited);
    EXPECT_TRUE(edited.out.empty()) << describe(edited);
    bool failureAudited = false;
    for (const auto& rec : gw_->audit("session.reveal"))
        failureAudited = failureAudited || (rec.event.details.value("session_id", "") == id &&
                                            rec.event.details.value("result", "") == "failed");
    EXPECT_TRUE(failureAudited);

    // Retention takes the sidecar along (once the session is older than 1 s,
    // counted in whole seconds).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    ProcessResult pruned;
    while (fs::exists(file) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        pruned = cli({"session", "prune", "--older-than", "1s"});
        EXPECT_EQ(pruned.exitCode, 0) << describe(pruned);
    }
    EXPECT_FALSE(fs::exists(file));
    EXPECT_FALSE(fs::exists(sidecar));
}

// `[recording] input = none`: no input events at all; output still recorded.
TEST_F(HiddenInputTest, InputNoneRecordsNoInputEvents) {
    gw_->start("[recording]\ninput = none\n");
    auto shell = openShell();
    shell->send("echo none-mode-$((40+2))\r");
    ASSERT_TRUE(shell->expect("none-mode-42")) << shell->output();
    const auto id = closeShell(*shell);
    ASSERT_FALSE(id.empty());
    const auto cast = readCast(castFile(id));
    EXPECT_EQ(cast.inputEvents, 0) << cast.input;
    EXPECT_TRUE(contains(cast.output, "none-mode-42"));
    EXPECT_FALSE(fs::exists(castFile(id).string() + ".secrets"));
}

// `[recording] input = all`: today's behaviour, the secret in clear (the
// operator chose it), and nothing to reveal.
TEST_F(HiddenInputTest, InputAllRecordsEverythingInClear) {
    gw_->start("[recording]\ninput = all\n");
    auto shell = openShell();
    shell->send("read -s -p 'Password: ' x; echo; echo all-got-${#x}\r");
    ASSERT_TRUE(shell->expect("all-got-${#x}\r\n")) << shell->output();
    ASSERT_TRUE(shell->expect("Password: ")) << shell->output();
    shell->send("clear-as-day\r");
    ASSERT_TRUE(shell->expect("all-got-12")) << shell->output();
    const auto id = closeShell(*shell);
    ASSERT_FALSE(id.empty());
    const auto cast = readCast(castFile(id));
    EXPECT_TRUE(contains(cast.input, "clear-as-day")) << cast.input;
    EXPECT_TRUE(cast.placeholders.empty());
    const auto found = cli({"session", "search", "clear-as-day"});
    EXPECT_EQ(found.exitCode, 0) << describe(found);
}

}  // namespace
}  // namespace portcullis::gateway::test
