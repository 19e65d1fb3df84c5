// Issue 13: shell completion for bash and zsh, generated from the CLI's own
// command table and installed by `cmake --install` (under DESTDIR here):
// bash completes `portcullis ses<TAB>` to `session`, every command that
// `portcullis --help` lists can be completed word by word, flags and flag
// values are offered; an unknown word completes to nothing (the control).
// zsh's script is checked with zsh itself when zsh is installed.
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// Where `cmake --install` put a file under DESTDIR (the prefix is the build's).
fs::path installed(const fs::path& root, const std::string& tail) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (entry.path().string().ends_with(tail)) return entry.path();
    }
    return {};
}

class CliCompletionTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        root_ = new TempDir("cli-completion");
        const fs::path build = fs::path(PORTCULLIS_CLI).parent_path().parent_path();
        ProcessOptions options;
        options.env.emplace("DESTDIR", (root_->path() / "dest").string());
        options.timeout = std::chrono::seconds(120);
        install_ = runProcess({"cmake", "--install", build.string()}, options);
    }
    static void TearDownTestSuite() {
        delete root_;
        root_ = nullptr;
    }

    fs::path bashScript() const {
        return installed(root_->path() / "dest", "share/bash-completion/completions/portcullis");
    }
    fs::path zshScript() const {
        return installed(root_->path() / "dest", "share/zsh/vendor-completions/_portcullis");
    }
    // What bash offers for the last word of `line` (a trailing space: a new word).
    std::vector<std::string> complete(const std::string& line) {
        std::vector<std::string> w = words(line);
        if (line.empty() || line.back() == ' ') w.emplace_back();
        std::string array;
        for (const auto& word : w) array += " '" + word + "'";
        const std::string script = "source '" + bashScript().string() + "'; COMP_WORDS=(" + array +
                                   "); COMP_CWORD=" + std::to_string(w.size() - 1) +
                                   "; _portcullis; printf '%s\\n' \"${COMPREPLY[@]}\"";
        const auto r = runProcess({"bash", "--norc", "--noprofile", "-c", script});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return words(r.out);
    }

    static TempDir* root_;
    static ProcessResult install_;
};
TempDir* CliCompletionTest::root_ = nullptr;
ProcessResult CliCompletionTest::install_;

TEST_F(CliCompletionTest, InstalledAndTheSameAsTheProgramPrints) {
    ASSERT_EQ(install_.exitCode, 0) << describe(install_);
    ASSERT_FALSE(bashScript().empty()) << "cmake --install put no bash completion";
    ASSERT_FALSE(zshScript().empty()) << "cmake --install put no zsh completion";
    EXPECT_EQ(readFile(bashScript()), runProcess({PORTCULLIS_CLI, "completion", "bash"}).out);
    EXPECT_EQ(readFile(zshScript()), runProcess({PORTCULLIS_CLI, "completion", "zsh"}).out);
    const auto bad = runProcess({PORTCULLIS_CLI, "completion", "fish"});
    EXPECT_EQ(bad.exitCode, 2) << describe(bad);
}

TEST_F(CliCompletionTest, BashCompletesCommandsFlagsAndValues) {
    ASSERT_EQ(install_.exitCode, 0) << describe(install_);
    EXPECT_THAT(complete("portcullis ses"), ElementsAre("session"));
    EXPECT_THAT(complete("portcullis session sh"), ElementsAre("show"));
    EXPECT_THAT(complete("portcullis --json user totp en"), ElementsAre("enroll"));
    EXPECT_THAT(complete("portcullis user totp enroll alice --"), Contains("--qr"));
    EXPECT_THAT(complete("portcullis user totp enroll alice --qr "),
                ElementsAre("dark", "light", "none"));
    EXPECT_THAT(complete("portcullis session export abcd --format t"), ElementsAre("text"));
    EXPECT_THAT(complete("portcullis audit list --type account."), ElementsAre("account.locked"));
    EXPECT_THAT(complete("portcullis --ver"), ElementsAre("--version"));
    // Controls: nothing for an unknown command, no command words after a leaf.
    EXPECT_THAT(complete("portcullis zzz"), IsEmpty());
    EXPECT_THAT(complete("portcullis session show "), Not(Contains("show")));

    // Every command `portcullis --help` lists completes word by word.
    const auto help = runProcess({PORTCULLIS_CLI, "--help"});
    ASSERT_EQ(help.exitCode, 0);
    std::istringstream in(help.out);
    bool commands = false;
    int checked = 0;
    for (std::string line; std::getline(in, line);) {
        if (line == "Commands:") {
            commands = true;
            continue;
        }
        if (!commands) continue;
        if (line.empty()) break;
        if (!line.starts_with("  ") || line[2] == ' ') continue;
        // The command words: up to the column where the summary starts.
        const std::string head = line.substr(2, line.find("  ", 2) - 2);
        std::string typed = "portcullis";
        for (const auto& word : words(head)) {
            if (word.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") != std::string::npos) break;
            EXPECT_THAT(complete(typed + " " + word.substr(0, 2)), Contains(word)) << line;
            typed += " " + word;
        }
        ++checked;
    }
    EXPECT_GT(checked, 30);
}

TEST_F(CliCompletionTest, ZshScriptOffersTheSameWords) {
    ASSERT_EQ(install_.exitCode, 0) << describe(install_);
    if (!fs::exists("/usr/bin/zsh")) GTEST_SKIP() << "zsh is not installed";
    const auto syntax = runProcess({"zsh", "-n", zshScript().string()});
    EXPECT_EQ(syntax.exitCode, 0) << describe(syntax);
    // compadd stands in for zsh's completion system: it prints what it is given.
    const auto offer = [&](const std::string& wordsText, int current) {
        const std::string script = "compadd() { shift; print -r -- \"$@\"; }; words=(" + wordsText +
                                   "); CURRENT=" + std::to_string(current) + "; source '" +
                                   zshScript().string() + "'";
        const auto r = runProcess({"zsh", "-f", "-c", script});
        EXPECT_TRUE(r.err.empty()) << describe(r);  // status 1: nothing to offer
        return words(r.out);
    };
    EXPECT_THAT(offer("portcullis ses", 2), Contains("session"));
    EXPECT_THAT(offer("portcullis session sh", 3), Contains("show"));
    EXPECT_THAT(offer("portcullis user totp enroll alice --qr ''", 7),
                ElementsAre("dark", "light", "none"));
    EXPECT_THAT(offer("portcullis zzz yyy", 3), IsEmpty());
}

}  // namespace
}  // namespace portcullis::test
