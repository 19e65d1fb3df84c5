#pragma once
// The lines a user typed, rebuilt from a recording's input stream so that
// `session search`, `session show` and `session export --format text
// --stream i` can show them.
//   terminal (pty input): the line is edited as bash's readline does with
//     its default (emacs) keys: Enter (CR or LF) ends a line; Ctrl-A/Home,
//     Ctrl-E/End, Ctrl-B/Left, Ctrl-F/Right, Alt-B/Alt-F and Ctrl-Left/Right
//     move; BS/DEL, Ctrl-D/Delete erase a character; Ctrl-K, Ctrl-U, Ctrl-W,
//     Alt-D, Alt-BS kill (consecutive kills add up) and Ctrl-Y yanks; Ctrl-T
//     transposes; Ctrl-V inserts the next key literally (a control shows as
//     "^X"); Ctrl-C ends the line with "^C" as the terminal echoed it. Other
//     escape sequences (function keys, bracketed-paste markers, terminal
//     reports) and control characters are dropped.
//     Input typed at a password-like prompt is recorded as the placeholder
//     "[hidden input, N bytes]" (one event per read): a placeholder is one
//     unit, consecutive ones are joined with their counts summed.
//   data (stdin of an exec without pty): LF ends a line; control characters
//     other than TAB are dropped; nothing is edited.
// A line is approximate when it cannot be trusted to be what the shell got:
// the terminal did not echo it (`stty -echo`: some typed character never came
// back in the output within kEchoWait), or it recalled history (Up, Down,
// Ctrl-P/N/R/S, PageUp/Down, Alt-. and the like), whose text the recording
// does not hold. What ran is told by the target's own audit (auditd execve
// rules), not by a recording of keys.
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::review {

class TypedLines {
  public:
    enum class Mode { terminal, data };
    // Lines longer than this many characters are cut (bulk input without newlines).
    static constexpr std::size_t kMaxLine = 1u << 20;
    // How long after a line ends its echo may still come (recorded time).
    static constexpr std::int64_t kEchoWaitUs = 2'000'000;

    struct Line {
        std::string text;            // without "\n"
        std::int64_t elapsedUs = 0;  // when it ended
        bool approximate = false;
    };

    explicit TypedLines(Mode mode) : mode_(mode) {}
    // One input event (bytes split anywhere); returns the lines that are
    // complete and whose echo is settled, in order.
    std::vector<Line> input(std::string_view bytes, std::int64_t elapsedUs);
    // One output event: the terminal's echo settles lines typed before it.
    std::vector<Line> output(std::string_view bytes, std::int64_t elapsedUs);
    // Everything left, the unfinished last line included.
    std::vector<Line> finish();

    // The lines as text for a person (export), each ending in "\n": controls
    // and invisible characters escaped, approximate lines marked "  [approximate]".
    static std::string text(const std::vector<Line>& lines);

  private:
    enum class State { text, escape, csi, ss3, string, stringEscape };
    using Counts = std::array<std::uint32_t, 95>;  // printable ASCII typed, not yet echoed
    struct Pending {
        Line line;
        Counts unechoed{};
        std::uint32_t total = 0;
        std::int64_t deadlineUs = 0;
    };

    void feedBytes(std::string_view bytes, std::int64_t elapsedUs);
    void terminalUnit(char32_t c);
    void afterKey();
    void csiKey(unsigned char final);
    void ss3Key(char32_t final);
    void altKey(char32_t c);
    void control(unsigned char c);
    void insert(char32_t c, bool typed);
    void insertPlaceholder(std::uint64_t bytes);
    void kill(std::size_t from, std::size_t to, bool backward);
    void erase(std::size_t from, std::size_t to);
    void endLine(std::int64_t elapsedUs);
    void settle(std::int64_t nowUs, bool all, std::vector<Line>& out);
    std::size_t wordStartBefore(std::size_t at) const;
    std::size_t wordEndAfter(std::size_t at) const;
    std::string render() const;

    Mode mode_;
    State state_ = State::text;
    std::string params_;   // CSI parameters of an input sequence
    std::string pending_;  // the start of a multi-byte character split across events
    bool literalNext_ = false;
    bool lastWasKill_ = false;
    bool killedThisKey_ = false;
    std::u32string line_;  // cells: characters, literal controls, placeholders
    std::size_t cursor_ = 0;
    std::u32string killRing_;
    bool approximate_ = false;
    Counts unechoed_{};  // of the line being typed
    std::uint32_t total_ = 0;
    std::uint64_t unechoedAll_ = 0;  // over every line (skips echo matching when 0)
    std::deque<Pending> settling_;   // ended lines waiting for their echo, in order
    std::int64_t lastUs_ = 0;        // the time of the latest input event
    std::string dataLine_;           // data mode
};

}  // namespace portcullis::review
