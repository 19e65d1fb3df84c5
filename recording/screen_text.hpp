#pragma once
// What a terminal showed, as plain text for pagers and `session export
// --format text`: escape sequences (CSI, OSC, DCS, single-character ESC)
// are interpreted where they move the cursor along a line (CR, BS, CUF/CUB,
// EL; also CHA, ECH, DCH, ICH, which line editors use) and stripped otherwise;
// other control characters are dropped except TAB and LF (VT and FF count as
// LF). Bytes that are not valid UTF-8 show as "\xNN". Lines are emitted as
// they complete. Bounded: lines wrap at 65536 columns, and an OSC/DCS string
// is abandoned after 64 KiB so an unterminated one cannot hide later output.
#include <cstddef>
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
    enum class State {
        text,
        escape,
        escapeIntermediate,
        csi,
        osc,
        oscEscape,
        string,
        stringEscape
    };
    void byte(unsigned char c, std::string& out);
    void textByte(unsigned char c, std::string& out);
    void control(unsigned char c, std::string& out);
    void highByte(unsigned char c, std::string& out);
    void flushPending(std::string& out);
    void csiDispatch(char final);
    void stringByte();
    void printable(char32_t c, std::string& out);
    void endLine(std::string& out);
    State state_ = State::text;
    std::string params_;            // CSI parameter and intermediate bytes collected so far
    std::size_t stringLength_ = 0;  // bytes of the OSC/DCS body so far
    // One cell per column: a code point, or 0xDC00 + byte for a byte that is
    // not valid UTF-8 (shown as "\xNN", as in .cast files).
    std::u32string line_;
    std::size_t column_ = 0;
    std::string pending_;  // the start of a multi-byte character split across feeds
};

}  // namespace portcullis::recording
