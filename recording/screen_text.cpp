#include "recording/screen_text.hpp"

#include <algorithm>
#include <charconv>

#include "recording/display_text.hpp"
#include "recording/utf8_text.hpp"

namespace portcullis::recording {

namespace {

constexpr char32_t kRawByteBase = VtParser::kRawByteBase;
constexpr char32_t kTabFill = 0xDBFF;  // a lone surrogate: never a character
constexpr std::size_t kTabStop = 8;

void appendCell(std::string& out, char32_t c) {
    if (c >= kRawByteBase + 0x80 && c <= kRawByteBase + 0xFF) {
        detail::appendByteEscape(out, static_cast<unsigned char>(c - kRawByteBase));
    } else if (c == kTabFill) {
        // the TAB before it stands for these columns
    } else if (isInvisibleFormat(c)) {
        appendCodePointEscape(out, c);
    } else {
        detail::appendUtf8(out, c);
    }
}

// The first CSI parameter, or `fallback` when absent or 0.
std::size_t firstParam(std::string_view params, std::size_t fallback) {
    std::size_t value = 0;
    const char* end = params.data() + params.size();
    const char* stop = std::find(params.data(), end, ';');
    const auto r = std::from_chars(params.data(), stop, value);
    if (r.ec == std::errc::result_out_of_range) return ScreenText::kMaxColumns;
    if (r.ptr == params.data() || value == 0) return fallback;
    return value;
}

}  // namespace

std::size_t columnsOfResize(std::string_view data) {
    std::size_t columns = 0;
    const auto r = std::from_chars(data.data(), data.data() + data.size(), columns);
    if (r.ec != std::errc() || r.ptr == data.data() || r.ptr == data.data() + data.size() ||
        *r.ptr != 'x') {
        return 0;
    }
    return columns;
}

// What the parser calls, for one feed().
struct ScreenText::Sink {
    ScreenText& screen;
    std::string& out;
    void print(char32_t c) { screen.printable(c, out); }
    void execute(unsigned char c) { screen.control(c, out); }
    void escDispatch(std::string_view, unsigned char) {}
    void csiDispatch(std::string_view params, unsigned char final) {
        screen.csiDispatch(params, final);
    }
};

void ScreenText::setWidth(std::size_t columns) {
    width_ = columns == 0 ? kMaxColumns : std::min(columns, kMaxColumns);
    pendingWrap_ = false;
}

std::string ScreenText::feed(std::string_view bytes) {
    std::string out;
    Sink sink{*this, out};
    parser_.feed(bytes, sink);
    return out;
}

std::string ScreenText::finish() {
    std::string out;
    Sink sink{*this, out};
    parser_.finish(sink);
    if (!line_.empty()) endLine(out);
    line_.clear();
    column_ = 0;
    pendingWrap_ = false;
    return out;
}

void ScreenText::control(unsigned char c, std::string& out) {
    switch (c) {
        case '\n':
        case '\v':  // VT and FF move down a line like LF on a terminal
        case '\f':
            pendingWrap_ = false;
            if (rowEnd() < line_.size()) {
                column_ += width_;  // down a row of the same wrapped line
            } else {
                endLine(out);
            }
            break;
        case '\r':
            column_ = rowStart();
            pendingWrap_ = false;
            break;
        case '\b':
            if (column_ > rowStart()) --column_;
            pendingWrap_ = false;
            break;
        case '\t':
            tab();
            break;
        default:
            break;  // BEL, NUL, DEL and the rest show nothing
    }
}

void ScreenText::tab() {
    if (pendingWrap_) return;  // at the right margin already
    const std::size_t inRow = column_ - rowStart();
    const std::size_t next = rowStart() + std::min((inRow / kTabStop + 1) * kTabStop, width_ - 1);
    if (next <= column_) return;
    if (column_ >= line_.size()) {
        // Past the end: the TAB shows as itself, standing for the columns it skipped.
        line_.append(column_ - line_.size(), U' ');
        line_ += U'\t';
        line_.append(next - column_ - 1, kTabFill);
    }
    column_ = next;
}

void ScreenText::csiDispatch(std::string_view params, unsigned char final) {
    // Private (?, >, =, <) or intermediate bytes change the meaning: not ours.
    if (params.find_first_not_of("0123456789;") != std::string_view::npos) return;
    const std::size_t start = rowStart();
    const std::size_t inRow = column_ - start;
    // Where the cursor's row ends in line_ (the last row may be shorter).
    const std::size_t end = std::min(rowEnd(), line_.size());
    // Moves and edits take the cursor off the margin; colours and modes do not.
    if (std::string_view("ABCDG`KXP@").find(static_cast<char>(final)) == std::string_view::npos) {
        return;
    }
    if (final == 'K' && firstParam(params, 0) > 2) return;  // not an erase a terminal knows
    pendingWrap_ = false;
    switch (final) {
        case 'A': {  // cursor up, within the wrapped line
            const std::size_t rows = std::min(firstParam(params, 1), start / width_);
            column_ -= rows * width_;
            break;
        }
        case 'B': {  // cursor down, within the wrapped line
            const std::size_t lastRow = line_.empty() ? 0 : (line_.size() - 1) / width_;
            const std::size_t row = start / width_;
            column_ += std::min(firstParam(params, 1), lastRow > row ? lastRow - row : 0) * width_;
            break;
        }
        case 'C':  // cursor forward
            column_ = start + std::min(inRow + firstParam(params, 1), width_ - 1);
            break;
        case 'D':  // cursor back
            column_ -= std::min(firstParam(params, 1), inRow);
            break;
        case 'G':  // cursor to column
        case '`':
            column_ = start + std::min(firstParam(params, 1) - 1, width_ - 1);
            break;
        case 'K': {  // erase in line (0: to the end, 1: to the cursor, 2: all)
            const std::size_t mode = firstParam(params, 0);
            const bool lastRow = rowEnd() >= line_.size();
            if (mode == 0 && column_ < line_.size()) {
                if (lastRow) {
                    line_.resize(column_);
                } else {
                    std::fill(line_.begin() + static_cast<std::ptrdiff_t>(column_),
                              line_.begin() + static_cast<std::ptrdiff_t>(end), U' ');
                }
            } else if (mode == 1 && start < line_.size()) {
                const std::size_t n = std::min(column_ + 1, end);
                std::fill(line_.begin() + static_cast<std::ptrdiff_t>(start),
                          line_.begin() + static_cast<std::ptrdiff_t>(n), U' ');
            } else if (mode == 2 && start < line_.size()) {
                if (lastRow) {
                    line_.resize(start);
                } else {
                    std::fill(line_.begin() + static_cast<std::ptrdiff_t>(start),
                              line_.begin() + static_cast<std::ptrdiff_t>(end), U' ');
                }
            }
            break;
        }
        case 'X': {  // erase characters (blank them, cursor stays)
            if (column_ >= end) break;
            const std::size_t n = std::min(firstParam(params, 1), end - column_);
            std::fill_n(line_.begin() + static_cast<std::ptrdiff_t>(column_), n, U' ');
            break;
        }
        case 'P': {  // delete characters within the row (line editors use it)
            if (column_ >= end) break;
            const std::size_t n = std::min(firstParam(params, 1), end - column_);
            const bool moreRows = rowEnd() < line_.size();
            line_.erase(column_, n);
            // A row with rows after it keeps its width: blanks come in at its right end.
            if (moreRows) line_.insert(rowEnd() - n, n, U' ');
            break;
        }
        case '@': {  // insert blank characters within the row
            if (column_ >= end) break;
            const std::size_t n = std::min(firstParam(params, 1), width_ - inRow);
            const bool lastRow = rowEnd() >= line_.size();
            line_.insert(column_, n, U' ');
            if (lastRow) {
                if (line_.size() > rowEnd()) line_.resize(rowEnd());
            } else {
                line_.erase(rowEnd(), n);  // what is pushed past the margin is gone
            }
            break;
        }
        default:
            break;  // colours, modes, other moves: nothing to keep
    }
}

void ScreenText::printable(char32_t c, std::string& out) {
    if (pendingWrap_) {
        pendingWrap_ = false;
        column_ = rowEnd();  // wrap: the next row of the same line
    }
    if (column_ >= maxCells()) endLine(out);  // bounded: the rest starts a new line
    if (column_ > line_.size()) line_.append(column_ - line_.size(), U' ');
    if (column_ == line_.size()) {
        line_ += c;
    } else {
        line_[column_] = c;
    }
    if (column_ + 1 == rowEnd()) {
        pendingWrap_ = true;  // the cursor stays at the margin until the next character
    } else {
        ++column_;
    }
}

void ScreenText::endLine(std::string& out) {
    for (const char32_t c : line_) appendCell(out, c);
    out += '\n';
    line_.clear();
    column_ = 0;
    pendingWrap_ = false;
}

}  // namespace portcullis::recording
