#include "recording/screen_text.hpp"

#include <algorithm>
#include <charconv>

#include "recording/utf8_text.hpp"

namespace portcullis::recording {

namespace {

constexpr unsigned char kEsc = 0x1B;
constexpr unsigned char kBel = 0x07;
constexpr unsigned char kCan = 0x18;
constexpr unsigned char kSub = 0x1A;
// Bounds against hostile output: a line wraps at this width (as a terminal
// would at its own), and an OSC/DCS body this long is abandoned so that an
// unterminated one cannot hide the rest of the session from text and search.
constexpr std::size_t kMaxColumns = 1u << 16;
constexpr std::size_t kMaxStringBody = 1u << 16;
constexpr std::size_t kMaxParams = 32;
constexpr char32_t kRawByteBase = 0xDC00;  // lone surrogates never come from valid UTF-8

char32_t decode(std::string_view s) {
    const auto b = [&](std::size_t i) {
        return static_cast<char32_t>(static_cast<unsigned char>(s[i]));
    };
    switch (s.size()) {
        case 2:
            return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        case 3:
            return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        default:
            return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) |
                   (b(3) & 0x3F);
    }
}

void appendCell(std::string& out, char32_t c) {
    if (c >= kRawByteBase + 0x80 && c <= kRawByteBase + 0xFF) {
        detail::appendByteEscape(out, static_cast<unsigned char>(c - kRawByteBase));
    } else if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// The first CSI parameter, or `fallback` when absent or 0.
std::size_t firstParam(const std::string& params, std::size_t fallback) {
    std::size_t value = 0;
    const char* end = params.data() + params.size();
    const char* stop = std::find(params.data(), end, ';');
    const auto r = std::from_chars(params.data(), stop, value);
    if (r.ec == std::errc::result_out_of_range) return kMaxColumns;
    if (r.ptr == params.data() || value == 0) return fallback;
    return value;
}

}  // namespace

std::string ScreenText::feed(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        // Fast path for the common case: a printable ASCII character in text.
        if (state_ == State::text && pending_.empty() && c >= 0x20 && c < 0x7F) {
            printable(c, out);
        } else {
            byte(c, out);
        }
    }
    return out;
}

std::string ScreenText::finish() {
    std::string out;
    flushPending(out);
    if (!line_.empty()) endLine(out);
    line_.clear();
    column_ = 0;
    state_ = State::text;
    params_.clear();
    return out;
}

void ScreenText::byte(unsigned char c, std::string& out) {
    // CAN and SUB abort any sequence; ESC starts a new one (or ends a string).
    if (state_ != State::text && (c == kCan || c == kSub)) {
        state_ = State::text;
        return;
    }
    switch (state_) {
        case State::text:
            textByte(c, out);
            return;
        case State::escape:
        case State::escapeIntermediate:
        case State::csi:
            if (c == kEsc) {
                state_ = State::escape;
            } else if (c < 0x20) {
                control(c, out);  // terminals execute C0 controls inside a sequence
            } else if (c >= 0x80) {
                state_ = State::text;  // not a sequence after all: show the byte
                textByte(c, out);
            } else if (c == 0x7F) {
                // DEL is ignored inside sequences
            } else if (state_ == State::escape) {
                if (c == '[') {
                    state_ = State::csi;
                    params_.clear();
                } else if (c == ']') {
                    state_ = State::osc;
                    stringLength_ = 0;
                } else if (c == 'P' || c == 'X' || c == '^' || c == '_') {
                    state_ = State::string;  // DCS, SOS, PM, APC
                    stringLength_ = 0;
                } else if (c < 0x30) {
                    state_ = State::escapeIntermediate;
                } else {
                    state_ = State::text;  // a complete two-byte sequence
                }
            } else if (state_ == State::escapeIntermediate) {
                if (c >= 0x30) state_ = State::text;
            } else if (c >= 0x40) {
                csiDispatch(static_cast<char>(c));
                state_ = State::text;
            } else if (params_.size() < kMaxParams) {
                params_ += static_cast<char>(c);
            }
            return;
        case State::osc:
            if (c == kBel) {
                state_ = State::text;
            } else if (c == kEsc) {
                state_ = State::oscEscape;
            } else {
                stringByte();
            }
            return;
        case State::string:
            if (c == kEsc) {
                state_ = State::stringEscape;
            } else {
                stringByte();
            }
            return;
        case State::oscEscape:
        case State::stringEscape:
            if (c == '\\') {
                state_ = State::text;  // ST
            } else {
                state_ = State::escape;  // the string ended; a new sequence starts
                byte(c, out);
            }
            return;
    }
}

void ScreenText::stringByte() {
    if (++stringLength_ > kMaxStringBody) state_ = State::text;
}

void ScreenText::textByte(unsigned char c, std::string& out) {
    if (c >= 0x80) {
        highByte(c, out);
        return;
    }
    flushPending(out);  // an ASCII byte ends any incomplete character
    if (c == kEsc) {
        state_ = State::escape;
    } else if (c < 0x20 || c == 0x7F) {
        control(c, out);
    } else {
        printable(c, out);
    }
}

void ScreenText::control(unsigned char c, std::string& out) {
    switch (c) {
        case '\n':
        case '\v':  // VT and FF move down a line like LF on a terminal
        case '\f':
            endLine(out);
            break;
        case '\r':
            column_ = 0;
            break;
        case '\b':
            if (column_ > 0) --column_;
            break;
        case '\t':
            printable(U'\t', out);
            break;
        default:
            break;  // BEL, NUL, DEL and the rest show nothing
    }
}

void ScreenText::highByte(unsigned char c, std::string& out) {
    pending_ += static_cast<char>(c);
    const detail::Utf8Step step = detail::utf8Step(pending_);
    if (step.kind == detail::Utf8Step::incomplete) return;
    if (step.kind == detail::Utf8Step::character) {
        const char32_t cp = decode(pending_);
        pending_.clear();
        if (cp >= 0x80 && cp <= 0x9F) return;  // C1 controls show nothing
        printable(cp, out);
        return;
    }
    // The first byte cannot start a character: show it, then look at the rest again.
    const std::string rest = pending_.substr(1);
    printable(kRawByteBase + static_cast<unsigned char>(pending_[0]), out);
    pending_.clear();
    for (const char r : rest) highByte(static_cast<unsigned char>(r), out);
}

void ScreenText::flushPending(std::string& out) {
    for (const char c : pending_) printable(kRawByteBase + static_cast<unsigned char>(c), out);
    pending_.clear();
}

void ScreenText::csiDispatch(char final) {
    // Private (?, >, =, <) or intermediate bytes change the meaning: not ours.
    if (params_.find_first_not_of("0123456789;") != std::string::npos) return;
    switch (final) {
        case 'C':  // cursor forward
            column_ = std::min(column_ + firstParam(params_, 1), kMaxColumns - 1);
            break;
        case 'D':  // cursor back
            column_ -= std::min(firstParam(params_, 1), column_);
            break;
        case 'G':  // cursor to column
        case '`':
            column_ = std::min(firstParam(params_, 1) - 1, kMaxColumns - 1);
            break;
        case 'K': {  // erase in line (0: to the end, 1: to the cursor, 2: all)
            const std::size_t mode = firstParam(params_, 0);
            if (mode == 0) {
                if (column_ < line_.size()) line_.resize(column_);
            } else if (mode == 1) {
                const std::size_t n = std::min(column_ + 1, line_.size());
                std::fill_n(line_.begin(), n, U' ');
            } else if (mode == 2) {
                line_.clear();
            }
            break;
        }
        case 'X': {  // erase characters (blank them, cursor stays)
            if (column_ >= line_.size()) break;
            const std::size_t n = std::min(firstParam(params_, 1), line_.size() - column_);
            std::fill_n(line_.begin() + static_cast<std::ptrdiff_t>(column_), n, U' ');
            break;
        }
        case 'P': {  // delete characters (line editors use it)
            if (column_ >= line_.size()) break;
            line_.erase(column_, std::min(firstParam(params_, 1), line_.size() - column_));
            break;
        }
        case '@': {  // insert blank characters
            if (column_ >= line_.size()) break;
            const std::size_t n = std::min(firstParam(params_, 1), kMaxColumns - line_.size());
            line_.insert(column_, n, U' ');
            break;
        }
        default:
            break;  // colours, modes, vertical moves: nothing to keep
    }
}

void ScreenText::printable(char32_t c, std::string& out) {
    if (column_ >= kMaxColumns) endLine(out);  // wrap, as a terminal does at its width
    if (column_ > line_.size()) line_.append(column_ - line_.size(), U' ');
    if (column_ == line_.size()) {
        line_ += c;
    } else {
        line_[column_] = c;
    }
    ++column_;
}

void ScreenText::endLine(std::string& out) {
    for (const char32_t c : line_) appendCell(out, c);
    out += '\n';
    line_.clear();
    column_ = 0;
}

}  // namespace portcullis::recording
