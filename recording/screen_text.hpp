#pragma once
// What a terminal showed, as plain text for pagers, `session export --format
// text` and `session search`. The output is split into characters, controls
// and sequences by VtParser (the same tokenizer `session play` filters with,
// so that play never hides text this shows). Each logical line is kept as
// the terminal's rows of `width` columns: a line longer than the terminal
// wraps onto the next row and stays one line here, so that a shell that
// redraws a wrapped command (" \r" at the right margin, cursor up, CR) does
// not overwrite its head. Interpreted: CR, BS, TAB (to the next multiple of
// 8), LF (down a row within a wrapped line, else the end of the line), CUU/
// CUD within the line, CUF/CUB, CHA, EL, ECH, DCH, ICH (which line editors
// use); other sequences are stripped, as are other control characters (VT and
// FF count as LF). Bytes that are not valid UTF-8 show as "\xNN", invisible
// and bidirectional format characters as "\u202E". Lines are emitted as they
// complete. Bounded: a line holds at most 65536 cells (the rest starts a new
// line), sequences and strings are bounded by VtParser.
#include <cstddef>
#include <string>
#include <string_view>

#include "recording/vt_parser.hpp"

namespace portcullis::recording {

class ScreenText {
  public:
    static constexpr std::size_t kMaxColumns = 1u << 16;

    // columns: the terminal's width (0: unknown, as for a .rec: no wrapping).
    explicit ScreenText(std::size_t columns = 0) { setWidth(columns); }
    // A resize: from now on lines wrap at `columns` (0: unknown).
    void setWidth(std::size_t columns);
    // Feeds output bytes (may split sequences anywhere across calls); returns
    // the lines completed by them, each ending in "\n".
    std::string feed(std::string_view bytes);
    // The last, unfinished line, if any (with "\n").
    std::string finish();

  private:
    struct Sink;
    void control(unsigned char c, std::string& out);
    void csiDispatch(std::string_view params, unsigned char final);
    void printable(char32_t c, std::string& out);
    void tab();
    void endLine(std::string& out);
    std::size_t rowStart() const { return column_ - column_ % width_; }
    std::size_t rowEnd() const { return rowStart() + width_; }
    std::size_t maxCells() const { return kMaxColumns / width_ * width_; }

    VtParser parser_;
    std::size_t width_ = kMaxColumns;
    // One cell per column of the logical line (its rows one after the other):
    // a code point, VtParser::kRawByteBase + byte for a byte that is not
    // valid UTF-8, or kTabFill for the columns a TAB skipped.
    std::u32string line_;
    std::size_t column_ = 0;    // the cursor, counted from the start of the logical line
    bool pendingWrap_ = false;  // at the right margin: the next character starts a row
};

// The columns of a resize event's data ("COLSxROWS"), or 0 when it says none.
std::size_t columnsOfResize(std::string_view data);

}  // namespace portcullis::recording
