#pragma once
// The lines a user typed, rebuilt from a recording's input stream so that
// `session search` and `session export --format text --stream i` can show them.
//   terminal (pty input): Enter (CR or LF) ends a line; DEL/BS erase a
//     character, Ctrl-U the line, Ctrl-W a word; Ctrl-C ends the line with
//     "^C" as the terminal echoed it; escape sequences (arrow and function
//     keys, bracketed-paste markers) and other control characters are dropped.
//   data (stdin of an exec without pty): LF ends a line; control characters
//     other than TAB are dropped; nothing is edited.
// Editing inside a line (cursor keys, history, completion) is not replayed:
// the shell's echo in the output shows the command that really ran.
#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::cli {

class TypedLines {
  public:
    enum class Mode { terminal, data };
    // Lines longer than this are cut into pieces (bulk input without newlines).
    static constexpr std::size_t kMaxLine = 4096;

    explicit TypedLines(Mode mode) : mode_(mode) {}
    // Feeds input bytes (split anywhere); returns the lines they completed,
    // each ending in "\n".
    std::string feed(std::string_view bytes);
    // The unfinished last line, if any (with "\n").
    std::string finish();

  private:
    enum class State { text, escape, csi, ss3, string, stringEscape };
    void terminalByte(unsigned char c, std::string& out);
    void endLine(std::string& out);
    void eraseCharacter();
    void eraseWord();

    Mode mode_;
    State state_ = State::text;
    std::string line_;
};

}  // namespace portcullis::cli
