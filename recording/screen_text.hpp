#pragma once
// What a terminal showed, as plain text for pagers and `session export
// --format text`: escape sequences (CSI, OSC, DCS, single-character ESC)
// are interpreted where they move the cursor along a line (CR, BS, CUF/CUB,
// EL) and stripped otherwise; other control characters are dropped except
// TAB and LF. Lines are emitted as they complete.
#include <string>
#include <string_view>

namespace portcullis::recording {

class ScreenText {
  public:
    // Feeds output bytes (may split sequences anywhere across calls); returns
    // the lines completed by them, each ending in "\n".
    std::string feed(std::string_view bytes);
    // The last, unfinished line, if any (with "\n").
    std::string finish();

  private:
    enum class State { text, escape, csi, osc, oscEscape, string, stringEscape };
    void printable(char c);
    void endLine(std::string& out);
    State state_ = State::text;
    std::string params_;  // CSI parameters collected so far
    std::string line_;
    std::size_t column_ = 0;
};

}  // namespace portcullis::recording
