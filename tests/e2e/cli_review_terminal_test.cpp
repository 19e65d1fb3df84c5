// Issue 21: the reviewer's terminal and the SIEM under attack. The review
// commands run as the real `portcullis` on recordings a hostile target could
// have produced; the terminal ones read the exact bytes that reach a pty, and
// one drives a real terminal emulator headless (tmux, `capture-pane -e` and
// its mode flags). Also issue 12 finding 8 (hidden-input placeholders) and
// finding 11 (an exec channel carrying SFTP), reviewer side.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/database.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/state_dir.hpp"
#include "recording/cast_writer.hpp"
#include "recording/file_digest.hpp"
#include "recording/rec_format.hpp"
#include "recording/recording_meta.hpp"
#include "tests/support/process.hpp"
#include "tests/support/terminal_allow_list.hpp"

extern char** environ;

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::string_literals;

using Clock = std::chrono::steady_clock;

// What `session play` ends with on a terminal (TerminalFilter::restoreSequence
// after "\x1b[?1049l" when the recording was in the alternate screen).
constexpr std::string_view kRestoreStart = "\x1b[!p";
constexpr std::string_view kRestoreEnd = "\x1b[>4m";

struct PtyResult {
    int exitCode = -1;  // -1: killed by a signal or the deadline
    bool timedOut = false;
    std::string bytes;  // everything the program wrote to its terminal (stdout and stderr)
};

// Runs a program on a new pty (its stdin, stdout and stderr) of cols x rows
// and collects every byte that reaches the terminal. `onOutput` sees the
// bytes so far after each read (to send a signal at the right moment).
PtyResult runInPty(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                   const std::function<void(pid_t, const std::string&)>& onOutput = {},
                   unsigned short cols = 100, unsigned short rows = 30) {
    PtyResult result;
    int master = -1;
    winsize size{rows, cols, 0, 0};
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
    if (pid < 0) return result;
    if (pid == 0) {
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::unsetenv("PORTCULLIS_STATE_DIR");
        ::setenv("TERM", "xterm-256color", 1);
        closeInheritedDescriptors();
        ::execve(args[0], args.data(), environ);
        ::_exit(127);
    }
    const auto deadline = Clock::now() + timeout;
    char buffer[65536];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timedOut = true;
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p{master, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 100))) <= 0) {
            continue;
        }
        const ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) break;  // EIO: every copy of the slave is closed
        result.bytes.append(buffer, static_cast<std::size_t>(n));
        if (onOutput) onOutput(pid, result.bytes);
    }
    ::close(master);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
    return result;
}

std::string repeat(std::string_view piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
}

class CliReviewTerminalTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto r = cli({"init"});
        ASSERT_EQ(r.exitCode, 0) << describe(r);
        auto opened = db::Database::open(db::StateDir(state_));
        ASSERT_TRUE(opened) << opened.error();
        db_.emplace(std::move(opened).value());
    }

    std::vector<std::string> cliArgs(std::vector<std::string> args) const {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        return args;
    }

    ProcessResult cli(std::vector<std::string> args, ProcessOptions options = {}) {
        options.env.emplace("SUDO_USER", "ops-dana");
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        if (options.timeout == std::chrono::milliseconds(30000)) {
            options.timeout = std::chrono::milliseconds(20000);
        }
        return runProcess(cliArgs(std::move(args)), options);
    }
    json cliJson(std::vector<std::string> args, int expectedExit = 0) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, expectedExit) << describe(r);
        return json::parse(r.out, nullptr, false);
    }

    std::string addSession(const std::string& id, const std::string& account = "alice",
                           const std::string& target = "cosigner-1") {
        db::Sessions sessions(*db_);
        sessions.insert({.id = id,
                         .account = account,
                         .login = "root",
                         .target = target,
                         .grantId = std::nullopt,
                         .source = "192.0.2.7",
                         .gateway = "gw:1",
                         .startedAt = started_});
        EXPECT_TRUE(sessions.finish(id, {.status = "closed",
                                         .reason = "client closed",
                                         .bytesIn = 1,
                                         .bytesOut = 1,
                                         .endedAt = started_ + Seconds(60)}));
        return id;
    }

    recording::RecordingMeta meta(const std::string& session, const std::string& kind,
                                  int width = 100) {
        recording::RecordingMeta m;
        m.sessionId = session;
        m.account = "alice";
        m.login = "root";
        m.target = "cosigner-1";
        m.source = "192.0.2.7";
        m.kind = kind;
        m.term = kind == "shell" ? "xterm-256color" : "";
        m.width = width;
        m.height = 30;
        m.startedAtUnix = started_.time_since_epoch().count();
        if (kind == "exec") m.command = "/usr/lib/openssh/sftp-server";
        return m;
    }

    // A sealed recording file and its row.
    void addRecording(const std::string& session, int channel, const std::string& format,
                      const std::string& kind, const std::string& content) {
        const std::string name = channel == 1 ? session : session + "-" + std::to_string(channel);
        const std::string relative = "recordings/" + name + "." + format;
        writeFile(state_ / relative, content);
        db::Recordings recordings(*db_);
        db::RecordingRow row;
        row.sessionId = session;
        row.channel = channel;
        row.kind = kind;
        row.format = format;
        row.path = relative;
        row.startedAt = started_;
        const auto id = recordings.add(row);
        const auto digest = recording::digestFile(state_ / relative);
        ASSERT_TRUE(digest) << digest.error();
        EXPECT_TRUE(recordings.seal(id, static_cast<std::int64_t>(digest->size), digest->sha256,
                                    started_ + Seconds(60)));
    }

    // A shell session whose output is `output` (one event per piece, 1 ms
    // apart) and whose input is `input` (events at the given offsets).
    struct Event {
        std::int64_t us;
        char stream;
        std::string data;
    };
    std::string cast(const std::string& session, const std::vector<Event>& events,
                     int width = 100) {
        std::string out = recording::castHeaderLine(meta(session, "shell", width));
        recording::CastStreamEncoder o('o'), i('i');
        for (const auto& e : events) {
            if (e.stream == 'r') {
                out += recording::castResizeLine(e.us, std::stoi(e.data), 30);
            } else {
                out += (e.stream == 'o' ? o : i).encode(e.us, e.data);
            }
        }
        return out;
    }

    TempDir tmp_{"cli-review-terminal"};
    fs::path state_ = tmp_.path() / "state";
    std::optional<db::Database> db_;
    TimePoint started_ = systemNow() - Seconds(7200);
};

// Sequences a hostile target prints, each of which the old filter let
// through to the reviewer's terminal (issue 21 finding 2).
const std::string kHostileOutput =
    "$ ls\r\n"
    "\x1b[?1000h\x1b[?1002h\x1b[?1006h"  // mouse reporting: clicks typed into the shell
    "\x1b[?1004h"                        // focus reports: ^[[I typed into the shell
    "\x1b[>4;2m"                         // modifyOtherKeys: Ctrl-C arrives as ^[[27;5;99~
    "\x1b[2;1$w\x1b[?4m\x1b[?1;1;0S\x1b[1;1;1;1;1;1*y\x1b[1;1;1;1#|"  // queries answered
    "\xC2\x9B?1000h\xC2\x9D"
    "52;c;c2VjcmV0\x07\xC2\x90q#0\xC2\x9C"  // C1 as UTF-8
    "\x1b[6n\x1b[c\x1b]52;c;c2VjcmV0\x07"
    "\x1b[1;31mred\x1b[0m done\r\n";

// Issue 21 finding 2: every byte play writes to a terminal is allow-listed,
// and playback ends with the restore sequence.
TEST_F(CliReviewTerminalTest, PlayWritesOnlyAllowListedBytesToATerminal) {
    const std::string id = addSession("7e2100000000000000000000000000a1");
    addRecording(id, 1, "cast", "shell", cast(id, {{1000, 'o', kHostileOutput}}));
    const auto r =
        runInPty(cliArgs({"session", "play", id, "--speed", "1000"}), std::chrono::seconds(15));
    ASSERT_EQ(r.exitCode, 0) << r.bytes;
    const std::size_t restore = r.bytes.rfind(kRestoreStart);
    ASSERT_NE(restore, std::string::npos) << r.bytes;
    EXPECT_THAT(r.bytes, EndsWith(std::string(kRestoreEnd)));
    AllowedModes modes;
    EXPECT_EQ(checkAllowListed(std::string_view(r.bytes).substr(0, restore), modes), "");
    EXPECT_THAT(r.bytes, HasSubstr("\x1b[1;31mred\x1b[0m done"));  // colours kept
    EXPECT_THAT(r.bytes, Not(HasSubstr("c2VjcmV0")));
    EXPECT_THAT(r.bytes, Not(HasSubstr("\xC2\x9B")));
    // The note on the terminal names the session (positive control: stderr is the pty).
    EXPECT_THAT(r.bytes, HasSubstr("playing session " + id));
}

// Issue 21 finding 1: an OSC ended by CAN made play hide everything after it.
TEST_F(CliReviewTerminalTest, PlayShowsEverythingAfterAStringEndedByCan) {
    const std::string id = addSession("7e2100000000000000000000000000a2");
    std::vector<Event> events = {{1000, 'o',
                                  "$ \x1b]0;x\x18"
                                  "after the string\r\n"}};
    // A few MB of ordinary output, then the command to find.
    const std::string chunk = repeat("output line of a long session 0123456789\r\n", 1500);
    for (int i = 0; i < 60; ++i) events.push_back({2000 + i, 'o', chunk});
    events.push_back({5000, 'o', "$ rm -rf /srv/custody\r\n"});
    addRecording(id, 1, "cast", "shell", cast(id, events));

    const auto r =
        runInPty(cliArgs({"session", "play", id, "--speed", "1000000"}), std::chrono::seconds(60));
    ASSERT_EQ(r.exitCode, 0) << r.bytes.substr(0, 2000);
    EXPECT_THAT(r.bytes, HasSubstr("after the string"));
    EXPECT_THAT(r.bytes, HasSubstr("$ rm -rf /srv/custody"));
    // Positive control: export shows the same.
    const auto text = cli({"session", "export", id, "--format", "text"});
    EXPECT_THAT(text.out, HasSubstr("$ rm -rf /srv/custody\n"));
}

// Issue 21 finding 2: Ctrl-C mid-playback restores the terminal too.
TEST_F(CliReviewTerminalTest, PlayRestoresTheTerminalWhenInterrupted) {
    const std::string id = addSession("7e2100000000000000000000000000a3");
    addRecording(id, 1, "cast", "shell",
                 cast(id, {{1000, 'o', "\x1b[?1049h\x1b[?25l\x1b[5;20rfull screen"},
                           {600000000, 'o', "ten minutes later"}}));
    bool sent = false;
    const auto r = runInPty(cliArgs({"session", "play", id}), std::chrono::seconds(15),
                            [&](pid_t pid, const std::string& bytes) {
                                if (!sent && bytes.find("full screen") != std::string::npos) {
                                    ::kill(pid, SIGINT);
                                    sent = true;
                                }
                            });
    ASSERT_TRUE(sent) << r.bytes;
    EXPECT_FALSE(r.timedOut);
    EXPECT_EQ(r.exitCode, 0) << r.bytes;
    EXPECT_THAT(r.bytes, Not(HasSubstr("ten minutes later")));
    const std::size_t screen = r.bytes.find("full screen");
    const std::size_t back = r.bytes.find("\x1b[?1049l\x1b[!p", screen);
    ASSERT_NE(back, std::string::npos) << r.bytes;
    for (const char* off : {"\x1b[?25h", "\x1b[r", "\x1b[?1000l", "\x1b[?1004l", "\x1b[>4m"}) {
        EXPECT_NE(r.bytes.find(off, back), std::string::npos) << off + 1;
    }
    EXPECT_THAT(r.bytes, HasSubstr("playback stopped"));
}

// Issue 21 finding 2, on a real terminal emulator: after play, tmux's pane
// keeps no mode the recording turned on and shows the text after the string.
TEST_F(CliReviewTerminalTest, ATmuxPaneKeepsNoModeAfterPlay) {
    if (runProcess({"sh", "-c", "command -v tmux"}).exitCode != 0) {
        GTEST_SKIP() << "tmux is not installed (scripts/deps installs it)";
    }
    const std::string id = addSession("7e2100000000000000000000000000a4");
    addRecording(id, 1, "cast", "shell",
                 cast(id, {{1000, 'o', kHostileOutput},
                           {2000, 'o', "\x1b]0;x\x18visible after CAN\r\n"},
                           {3000, 'o', "\x1b=\x1b[?1h\x1b[?2004h\x1b[?1049h\x1b[?25lfull"}}));
    const fs::path socket = tmp_.path() / "tmux.sock";
    struct Server {
        fs::path socket;
        ~Server() { runProcess({"tmux", "-S", socket.string(), "kill-server"}); }
    } server{socket};
    ProcessOptions options;
    options.unsetEnv = {"TMUX", "PORTCULLIS_STATE_DIR"};
    options.env = {{"TERM", "xterm-256color"}};
    std::string command;
    for (const auto& a : cliArgs({"session", "play", id, "--speed", "1000"})) {
        command += "'" + a + "' ";
    }
    command += "; echo PLAYBACK-ENDED; sleep 60";
    const auto started =
        runProcess({"tmux", "-S", socket.string(), "-f", "/dev/null", "new-session", "-d", "-x",
                    "100", "-y", "30", "-s", "review", command},
                   options);
    ASSERT_EQ(started.exitCode, 0) << describe(started);
    const auto tmux = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"tmux", "-S", socket.string()});
        return runProcess(args, options);
    };
    std::string screen;
    for (const auto deadline = Clock::now() + std::chrono::seconds(15);
         Clock::now() < deadline && screen.find("PLAYBACK-ENDED") == std::string::npos;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        screen = tmux({"capture-pane", "-p", "-e", "-t", "review"}).out;
    }
    ASSERT_THAT(screen, HasSubstr("PLAYBACK-ENDED"));
    EXPECT_THAT(screen, HasSubstr("visible after CAN"));
    EXPECT_THAT(screen, HasSubstr("\x1b[31mred"));  // the emulator drew the colour
    const auto flags = tmux({"display-message", "-p", "-t", "review",
                             "mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_all_flag}"
                             "#{mouse_sgr_flag} alt=#{alternate_on} cursor=#{cursor_flag} "
                             "keypad=#{keypad_flag}#{keypad_cursor_flag} insert=#{insert_flag} "
                             "origin=#{origin_flag} wrap=#{wrap_flag} "
                             "region=#{scroll_region_upper},#{scroll_region_lower}"});
    EXPECT_EQ(flags.out,
              "mouse=0000 alt=0 cursor=1 keypad=00 insert=0 origin=0 wrap=1 region=0,29\n");
}

// Issue 21 finding 2: C1 controls in a .cast went raw to the terminal on export.
TEST_F(CliReviewTerminalTest, CastExportToATerminalEscapesC1AndInvisibleCharacters) {
    const std::string id = addSession("7e2100000000000000000000000000a5");
    addRecording(id, 1, "cast", "shell", cast(id, {{1000, 'o', "\xC2\x9B?1000h\xE2\x80\xAEtxt"}}));
    const auto r = runInPty(cliArgs({"session", "export", id}), std::chrono::seconds(10));
    ASSERT_EQ(r.exitCode, 0) << r.bytes;
    EXPECT_THAT(r.bytes, Not(HasSubstr("\xC2\x9B")));
    EXPECT_THAT(r.bytes, Not(HasSubstr("\xE2\x80\xAE")));
    EXPECT_THAT(r.bytes, HasSubstr("\\u009B?1000h\\u202Etxt"));
    // Positive control: to a file or pipe, the recording's exact bytes.
    const auto piped = cli({"session", "export", id});
    EXPECT_EQ(piped.out, readFile(state_ / ("recordings/" + id + ".cast")));
}

// Issue 21 finding 6: play's status line shows names with their escapes.
TEST_F(CliReviewTerminalTest, PlayStatusLineShowsInvisibleCharactersAsEscapes) {
    const std::string id =
        addSession("7e2100000000000000000000000000a6", "al\xE2\x80\xAEice", "co\xC2\x9Bsigner");
    addRecording(id, 1, "cast", "shell", cast(id, {{1000, 'o', "hello\r\n"}}));
    const auto r =
        runInPty(cliArgs({"session", "play", id, "--speed", "1000"}), std::chrono::seconds(10));
    ASSERT_EQ(r.exitCode, 0) << r.bytes;
    EXPECT_THAT(r.bytes, HasSubstr("(al\\u202Eice as root@co\\u009Bsigner"));
    EXPECT_THAT(r.bytes, Not(HasSubstr("\xE2\x80\xAE")));
}

// What bash 5.2 wrote on a 40-column pty while a command longer than the
// line was typed (" \r" at the margin), then Ctrl-A, Ctrl-E and Enter.
std::string readlineWrap() {
    return "$ echo rm -rf /tmp/DIR; : zzzzzzzzzzzzzz \rzzzzzzzzzzzzzzzzzzzzzzzz\x1b[A\r\x1b[C\x1b[C"
           "\r\n\r" +
           repeat("\x1b[C", 24) + "\r\n\x1b[?2004l\rrm -rf /tmp/DIR\r\n\x1b[?2004h$ ";
}

// Issue 21 finding 4: the wrapped command's tail overwrote its head in export and search.
TEST_F(CliReviewTerminalTest, SearchAndExportFindAWrappedCommandWhole) {
    const std::string id = addSession("7e2100000000000000000000000000a7");
    addRecording(id, 1, "cast", "shell",
                 cast(id,
                      {{1000, 'o', readlineWrap()},
                       {2000, 'r', "20"},
                       {3000, 'o', "\r\n$ echo 0123456789; r \rm -rf /x\r\n"}},
                      40));
    const std::string command = "$ echo rm -rf /tmp/DIR; : " + std::string(38, 'z');
    auto r = cli({"session", "search", "rm -rf /tmp/DIR; : z+$", "--json"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const json matches = json::parse(r.out);
    ASSERT_EQ(matches.size(), 1u) << r.out;
    EXPECT_EQ(matches[0]["stream"], "output");
    EXPECT_EQ(matches[0]["line"], command);
    r = cli({"session", "export", id, "--format", "text"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(command + "\nrm -rf /tmp/DIR\n"));
    // After the resize to 20 columns, wrapping follows the new width.
    EXPECT_THAT(r.out, HasSubstr("$ echo 0123456789; rm -rf /x\n"));
}

// Issue 21 finding 3: with `stty -echo`, `m -rf DIR`, Ctrl-A, `r` ran
// `rm -rf DIR`, and search found nothing.
TEST_F(CliReviewTerminalTest, ACommandTypedWithoutEchoIsFoundAndMarkedApproximate) {
    const std::string id = addSession("7e2100000000000000000000000000a8");
    addRecording(id, 1, "cast", "shell",
                 cast(id, {{1000, 'o', "$ stty -echo\r\n$ "},
                           {2000, 'i', "m -rf DIR"},
                           {3000, 'i', "\x01"},
                           {4000, 'i', "r"},
                           {5000, 'i', "\r"},
                           {6000, 'o', "\r\n$ "},
                           {9000000, 'i', "echo visible\r"},
                           {9001000, 'o', "echo visible\r\nvisible\r\n$ "}}));
    auto r = cli({"session", "search", "rm -rf DIR"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("input (approximate)  rm -rf DIR"));
    const json matches = cliJson({"session", "search", "DIR|visible"});
    ASSERT_EQ(matches.size(), 4u) << matches.dump();  // and the echo, output twice
    EXPECT_EQ(matches[0]["line"], "rm -rf DIR");
    EXPECT_EQ(matches[0]["approximate"], true);
    EXPECT_EQ(matches[1]["line"], "echo visible");  // echoed: exact (positive control)
    EXPECT_EQ(matches[1]["approximate"], false);

    r = cli({"session", "export", id, "--format", "text", "--stream", "i"});
    EXPECT_EQ(r.out, "rm -rf DIR  [approximate]\necho visible\n");
    r = cli({"session", "show", id});
    EXPECT_THAT(r.out, HasSubstr("1 of 2 typed lines are approximate"));
    EXPECT_EQ(cliJson({"session", "show", id})["recordings"][0]["approximate_typed_lines"], 1);
}

// Issue 21 finding 3 (the 4096-byte cut) and issue 12 finding 8 (hidden
// input recorded as one placeholder per read).
TEST_F(CliReviewTerminalTest, LongLinesAndHiddenInputAreTypedLinesWhole) {
    const std::string id = addSession("7e2100000000000000000000000000a9");
    const std::string longCommand = std::string(5000, 'a') + "; rm -rf /x";
    std::vector<Event> events = {{1000, 'i', longCommand + "\r"},
                                 {2000, 'o', longCommand + "\r\n[sudo] password: "}};
    for (int i = 0; i < 6; ++i) events.push_back({3000 + i, 'i', "[hidden input, 1 bytes]"});
    events.push_back({4000, 'i', "\r"});
    events.push_back({5000, 'o', "\r\n$ "});
    addRecording(id, 1, "cast", "shell", cast(id, events));
    auto r = cli({"session", "search", "^a{5000}; rm -rf /x$", "--json"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(json::parse(r.out)[0]["stream"], "input");
    r = cli({"session", "export", id, "--format", "text", "--stream", "i"});
    EXPECT_EQ(r.out, longCommand + "\n[hidden input, 6 bytes]\n");
}

// Issue 21 finding 6: `audit tail` printed actor= unquoted.
TEST_F(CliReviewTerminalTest, AuditTailQuotesAndEscapesEveryField) {
    ProcessOptions evil;
    evil.env = {{"SUDO_USER", "x\" account=root event=auth.success"}};
    ASSERT_EQ(cli({"user", "add", "bob", "--full-name", "B\xE2\x80\xAEob"}, evil).exitCode, 0);
    ProcessOptions follow;
    follow.timeout = std::chrono::milliseconds(1500);
    const auto tail = cli({"audit", "tail", "--type", "admin.user.add"}, follow);
    EXPECT_TRUE(tail.timedOut);
    EXPECT_THAT(tail.out, HasSubstr("admin.user.add  actor=\"x\\\" account=root "
                                    "event=auth.success\""));
    EXPECT_THAT(tail.out, Not(HasSubstr("\xE2\x80\xAE")));
    EXPECT_THAT(tail.out, HasSubstr("B\\u202Eob"));
    // Positive control: a plain actor stays bare.
    ASSERT_EQ(cli({"user", "add", "carol"}).exitCode, 0);
    const auto plain = cli({"audit", "tail", "--type", "admin.user.add"}, follow);
    EXPECT_THAT(plain.out, HasSubstr("actor=ops-dana  "));
    // audit list's table escapes the same characters.
    const auto list = cli({"audit", "list", "--type", "admin.user.add"});
    EXPECT_THAT(list.out, HasSubstr("B\\u202Eob"));
    EXPECT_THAT(list.out, Not(HasSubstr("\xE2\x80\xAE")));
}

// Issue 21 finding 2: a key comment with C1 controls reached the terminal.
TEST_F(CliReviewTerminalTest, KeyListShowsC1ControlsAsEscapes) {
    ASSERT_EQ(cli({"user", "add", "alice"}).exitCode, 0);
    const fs::path key = tmp_.path() / "key";
    ASSERT_EQ(runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f",
                          key.string()})
                  .exitCode,
              0);
    std::string line = readFile(key.string() + ".pub");
    line = line.substr(0, line.rfind(' ')) +
           " laptop\xC2\x9B?1000h\xC2\x9D"
           "0;t\xC2\x9C\n";
    ProcessOptions input;
    input.input = line;
    const auto added = cli({"user", "key", "add", "alice", "-"}, input);
    ASSERT_EQ(added.exitCode, 0) << describe(added);
    const auto r = runInPty(cliArgs({"user", "key", "list", "alice"}), std::chrono::seconds(10));
    ASSERT_EQ(r.exitCode, 0) << r.bytes;
    EXPECT_THAT(r.bytes, HasSubstr("laptop\\u009B?1000h\\u009D0;t\\u009C"));
    EXPECT_THAT(r.bytes, Not(HasSubstr("\xC2\x9B")));
    const json keys = cliJson({"user", "key", "list", "alice"});
    EXPECT_EQ(keys[0]["comment"],
              "laptop\xC2\x9B?1000h\xC2\x9D"
              "0;t\xC2\x9C");  // the value, intact
}

// Issue 12 finding 11: an exec channel running sftp-server carries full SFTP.
TEST_F(CliReviewTerminalTest, ShowAndSearchNameAnExecChannelCarryingSftp) {
    const std::string id = addSession("7e2100000000000000000000000000aa");
    std::string rec = recording::recHeaderLine(meta(id, "exec"));
    rec += recording::recFrame(1000, 'i', "\x00\x00\x00\x05\x01\x00\x00"s);
    rec += recording::recFrame(1100, 'i', "\x00\x03"s);
    rec += recording::recFrame(2000, 'o', "\x00\x00\x00\x05\x02\x00\x00\x00\x03"s);
    rec += recording::recFrame(3000, 'i', "\x00\x00\x00\x20\x03/etc/shadow-copy\n"s);
    addRecording(id, 1, "rec", "exec", rec);
    // Positive control: an ordinary exec is not named so.
    const std::string plain = addSession("7e2100000000000000000000000000ab");
    std::string tar = recording::recHeaderLine(meta(plain, "exec"));
    tar += recording::recFrame(1000, 'i', "shadow-copy data\n");
    addRecording(plain, 1, "rec", "exec", tar);

    auto r = cli({"session", "show", id});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("exec (carried SFTP)"));
    EXPECT_EQ(cliJson({"session", "show", id})["recordings"][0]["carried_sftp"], true);
    EXPECT_THAT(cli({"session", "show", plain}).out, Not(HasSubstr("carried SFTP")));
    EXPECT_EQ(cliJson({"session", "show", plain})["recordings"][0]["carried_sftp"], false);

    r = cli({"session", "search", "shadow-copy"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(id + "  "));
    EXPECT_THAT(r.out, HasSubstr("input (exec carrying SFTP)"));
    const json matches = cliJson({"session", "search", "shadow-copy"});
    ASSERT_EQ(matches.size(), 2u) << matches.dump();
    EXPECT_EQ(matches[0]["carried_sftp"], true);
    EXPECT_EQ(matches[1]["carried_sftp"], false);
}

}  // namespace
}  // namespace portcullis::test
