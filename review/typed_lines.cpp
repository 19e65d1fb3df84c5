#include "review/typed_lines.hpp"

#include <algorithm>
#include <charconv>

#include "recording/display_text.hpp"
#include "recording/utf8_text.hpp"

namespace portcullis::review {
namespace {

constexpr char32_t kEsc = 0x1B;
constexpr char32_t kBel = 0x07;
constexpr char32_t kDelete = 0x7F;
constexpr char32_t kRawByteBase = 0xDC00;  // + a byte that is not valid UTF-8
// A placeholder for hidden input is one cell: kHiddenBase + its byte count.
constexpr char32_t kHiddenBase = 0x80000000u;
constexpr std::uint64_t kMaxHidden = 0x7FFFFFFFu;
constexpr std::size_t kMaxParams = 32;
constexpr std::string_view kHiddenPrefix = "[hidden input, ";

bool isHidden(char32_t c) {
    return c >= kHiddenBase;
}

bool isRaw(char32_t c) {
    return c >= kRawByteBase + 0x80 && c <= kRawByteBase + 0xFF;
}

bool isWordCell(char32_t c) {
    if (isHidden(c) || isRaw(c)) return false;
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool isBlank(char32_t c) {
    return c == ' ' || c == '\t';
}

// "[hidden input, N bytes]", exactly: the gateway's record of input typed at
// a password-like prompt.
bool parsePlaceholder(std::string_view event, std::uint64_t& bytes) {
    if (!event.starts_with(kHiddenPrefix)) return false;
    event.remove_prefix(kHiddenPrefix.size());
    const auto r = std::from_chars(event.data(), event.data() + event.size(), bytes);
    if (r.ec != std::errc() || r.ptr == event.data()) return false;
    const std::string_view rest(r.ptr,
                                static_cast<std::size_t>(event.data() + event.size() - r.ptr));
    return rest == " bytes]" || rest == " byte]";
}

}  // namespace

std::vector<TypedLines::Line> TypedLines::input(std::string_view bytes, std::int64_t elapsedUs) {
    std::vector<Line> out;
    lastUs_ = std::max(lastUs_, elapsedUs);
    if (mode_ == Mode::data) {
        for (const char ch : bytes) {
            const auto c = static_cast<unsigned char>(ch);
            if (c == '\n') {
                out.push_back({std::move(dataLine_), elapsedUs, false});
                dataLine_.clear();
            } else if (c >= 0x20 || c == '\t') {
                dataLine_ += ch;
                if (dataLine_.size() >= kMaxLine) {
                    out.push_back({std::move(dataLine_), elapsedUs, false});
                    dataLine_.clear();
                }
            }
        }
        return out;
    }
    settle(elapsedUs, false, out);
    std::uint64_t hidden = 0;
    if (state_ == State::text && pending_.empty() && !literalNext_ &&
        parsePlaceholder(bytes, hidden)) {
        insertPlaceholder(hidden);
    } else {
        feedBytes(bytes, elapsedUs);
    }
    settle(elapsedUs, false, out);
    return out;
}

std::vector<TypedLines::Line> TypedLines::output(std::string_view bytes, std::int64_t elapsedUs) {
    std::vector<Line> out;
    if (mode_ == Mode::data) return out;
    settle(elapsedUs, false, out);
    if (unechoedAll_ > 0) {
        for (const char ch : bytes) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 || c > 0x7E) continue;
            const std::size_t index = c - 0x20;
            // The oldest line that still waits for this character takes it.
            bool taken = false;
            for (auto& p : settling_) {
                if (p.unechoed[index] > 0) {
                    --p.unechoed[index];
                    --p.total;
                    taken = true;
                    break;
                }
            }
            if (!taken && unechoed_[index] > 0) {
                --unechoed_[index];
                --total_;
                taken = true;
            }
            if (taken && --unechoedAll_ == 0) break;
        }
    }
    settle(elapsedUs, false, out);
    return out;
}

std::vector<TypedLines::Line> TypedLines::finish() {
    std::vector<Line> out;
    if (mode_ == Mode::data) {
        if (!dataLine_.empty()) out.push_back({std::move(dataLine_), lastUs_, false});
        dataLine_.clear();
        return out;
    }
    for (const char b : pending_) insert(kRawByteBase + static_cast<unsigned char>(b), false);
    pending_.clear();
    if (!line_.empty()) endLine(lastUs_);
    settle(lastUs_, true, out);
    state_ = State::text;
    literalNext_ = false;
    return out;
}

std::string TypedLines::text(const std::vector<Line>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += recording::displayText(line.text);  // C1 and U+202E typed are shown, not obeyed
        if (line.approximate) out += "  [approximate]";
        out += '\n';
    }
    return out;
}

void TypedLines::settle(std::int64_t nowUs, bool all, std::vector<Line>& out) {
    while (!settling_.empty()) {
        Pending& front = settling_.front();
        if (front.total > 0 && !all && nowUs <= front.deadlineUs) return;
        if (front.total > 0) {
            front.line.approximate = true;  // never echoed: typed blind
            unechoedAll_ -= front.total;
        }
        out.push_back(std::move(front.line));
        settling_.pop_front();
    }
}

void TypedLines::feedBytes(std::string_view bytes, std::int64_t elapsedUs) {
    lastUs_ = std::max(lastUs_, elapsedUs);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80 && pending_.empty()) {
            terminalUnit(c);
            continue;
        }
        if (c < 0x80) {
            for (const char b : std::string(std::move(pending_))) {
                terminalUnit(kRawByteBase + static_cast<unsigned char>(b));
            }
            pending_.clear();
            terminalUnit(c);
            continue;
        }
        pending_ += ch;
        for (;;) {
            const auto step = recording::detail::utf8Step(pending_);
            if (step.kind == recording::detail::Utf8Step::incomplete) break;
            if (step.kind == recording::detail::Utf8Step::character) {
                const char32_t cp = recording::detail::decodeUtf8(pending_);
                pending_.clear();
                terminalUnit(cp);
                break;
            }
            terminalUnit(kRawByteBase + static_cast<unsigned char>(pending_[0]));
            pending_.erase(0, 1);
            if (pending_.empty()) break;
        }
    }
}

void TypedLines::terminalUnit(char32_t c) {
    if (literalNext_) {
        literalNext_ = false;
        insert(c, false);  // Ctrl-V: whatever comes, as it is (a control shows as ^X)
        afterKey();
        return;
    }
    switch (state_) {
        case State::escape:
            state_ = State::text;
            if (c == '[') {
                state_ = State::csi;
                params_.clear();
            } else if (c == 'O') {
                state_ = State::ss3;
            } else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X') {
                state_ = State::string;  // a terminal's answer to a query
            } else if (c == kEsc) {
                state_ = State::escape;
            } else {
                altKey(c);
            }
            break;
        case State::csi:
            if (c >= 0x20 && c <= 0x3F) {
                if (params_.size() < kMaxParams) params_ += static_cast<char>(c);
                return;
            }
            state_ = State::text;
            if (c >= 0x40 && c <= 0x7E) csiKey(static_cast<unsigned char>(c));
            break;
        case State::ss3:
            state_ = State::text;
            ss3Key(c);
            break;
        case State::string:
            if (c == kBel || c == 0x18 || c == 0x1A) state_ = State::text;
            if (c == kEsc) state_ = State::stringEscape;
            return;
        case State::stringEscape:
            state_ = c == '\\' ? State::text : State::string;
            return;
        case State::text:
            if (c == kEsc) {
                state_ = State::escape;
                return;
            }
            if (c < 0x20 || c == kDelete) {
                control(static_cast<unsigned char>(c));
            } else if (c >= 0x80 && c <= 0x9F) {
                // C1 controls are nobody's keys
            } else {
                insert(c, true);
            }
            break;
    }
    if (state_ == State::text) afterKey();
}

void TypedLines::afterKey() {
    lastWasKill_ = killedThisKey_;
    killedThisKey_ = false;
}

void TypedLines::csiKey(unsigned char final) {
    // Modifiers: "1;5" Ctrl, "1;3" Alt (Ctrl-Left/Right move by words in Debian's inputrc).
    const bool word = params_.ends_with(";5") || params_.ends_with(";3");
    switch (final) {
        case 'A':  // Up, Down: history
        case 'B':
            approximate_ = true;
            return;
        case 'C':
            cursor_ = word ? wordEndAfter(cursor_) : std::min(cursor_ + 1, line_.size());
            return;
        case 'D':
            cursor_ = word ? wordStartBefore(cursor_) : cursor_ - (cursor_ > 0 ? 1 : 0);
            return;
        case 'H':
            cursor_ = 0;
            return;
        case 'F':
            cursor_ = line_.size();
            return;
        case '~': {
            const std::string_view key = std::string_view(params_).substr(0, params_.find(';'));
            if (key == "1" || key == "7") cursor_ = 0;
            if (key == "4" || key == "8") cursor_ = line_.size();
            if (key == "3" && cursor_ < line_.size()) erase(cursor_, cursor_ + 1);
            if (key == "5" || key == "6") approximate_ = true;  // PageUp/Down: history search
            return;                                             // 200/201: paste markers
        }
        default:
            return;  // focus and mouse reports, Shift-Tab, answers to queries
    }
}

void TypedLines::ss3Key(char32_t final) {
    switch (final) {
        case 'A':
        case 'B':
            approximate_ = true;
            return;
        case 'C':
            cursor_ = std::min(cursor_ + 1, line_.size());
            return;
        case 'D':
            cursor_ -= cursor_ > 0 ? 1 : 0;
            return;
        case 'H':
            cursor_ = 0;
            return;
        case 'F':
            cursor_ = line_.size();
            return;
        default:
            return;  // F1-F4, keypad
    }
}

void TypedLines::altKey(char32_t c) {
    switch (c) {
        case 'b':
        case 'B':
            cursor_ = wordStartBefore(cursor_);
            return;
        case 'f':
        case 'F':
            cursor_ = wordEndAfter(cursor_);
            return;
        case 'd':
        case 'D':
            kill(cursor_, wordEndAfter(cursor_), false);
            return;
        case kDelete:
        case 0x08:
            kill(wordStartBefore(cursor_), cursor_, true);
            return;
        case '.':  // yank-last-arg, history searches, first/last history line
        case '_':
        case '<':
        case '>':
        case 'p':
        case 'n':
        case 'r':
            approximate_ = true;
            return;
        default:
            return;  // other Meta commands (capitalize, completion lists)
    }
}

void TypedLines::control(unsigned char c) {
    switch (c) {
        case '\r':
        case '\n':
            endLine(lastUs_);
            return;
        case 0x01:  // Ctrl-A
            cursor_ = 0;
            return;
        case 0x05:  // Ctrl-E
            cursor_ = line_.size();
            return;
        case 0x02:  // Ctrl-B
            cursor_ -= cursor_ > 0 ? 1 : 0;
            return;
        case 0x06:  // Ctrl-F
            cursor_ = std::min(cursor_ + 1, line_.size());
            return;
        case 0x08:  // BS, DEL
        case 0x7F:
            if (cursor_ > 0) erase(cursor_ - 1, cursor_);
            return;
        case 0x04:  // Ctrl-D: the character under the cursor (on an empty line: EOF)
            if (cursor_ < line_.size()) erase(cursor_, cursor_ + 1);
            return;
        case 0x0B:  // Ctrl-K
            kill(cursor_, line_.size(), false);
            return;
        case 0x15:  // Ctrl-U: from the start of the line to the cursor
            kill(0, cursor_, true);
            return;
        case 0x17: {  // Ctrl-W: the whitespace-delimited word before the cursor
            std::size_t from = cursor_;
            while (from > 0 && isBlank(line_[from - 1])) --from;
            while (from > 0 && !isBlank(line_[from - 1])) --from;
            kill(from, cursor_, true);
            return;
        }
        case 0x19: {  // Ctrl-Y
            const std::u32string text = killRing_;
            for (const char32_t k : text) insert(k, true);
            return;
        }
        case 0x14:  // Ctrl-T
            if (line_.size() >= 2 && cursor_ > 0) {
                if (cursor_ == line_.size()) --cursor_;
                std::swap(line_[cursor_ - 1], line_[cursor_]);
                ++cursor_;
            }
            return;
        case 0x16:  // Ctrl-V
            literalNext_ = true;
            return;
        case 0x03:  // Ctrl-C: the line is abandoned, as the terminal echoed it
            if (!line_.empty()) {
                cursor_ = line_.size();
                insert('^', false);
                insert('C', false);
                endLine(lastUs_);
            }
            return;
        case 0x10:  // Ctrl-P, Ctrl-N, Ctrl-R, Ctrl-S: history; Ctrl-_: undo
        case 0x0E:
        case 0x12:
        case 0x13:
        case 0x1F:
            approximate_ = true;
            return;
        case '\t':
            insert('\t', false);  // completion: the echo shows what it became
            return;
        default:
            return;
    }
}

void TypedLines::insert(char32_t c, bool typed) {
    line_.insert(line_.begin() + static_cast<std::ptrdiff_t>(cursor_), c);
    ++cursor_;
    if (typed && c >= 0x20 && c <= 0x7E) {
        ++unechoed_[c - 0x20];
        ++total_;
        ++unechoedAll_;
    }
    if (line_.size() >= kMaxLine) endLine(lastUs_);  // bulk input: cut, not held forever
}

void TypedLines::insertPlaceholder(std::uint64_t bytes) {
    if (cursor_ > 0 && isHidden(line_[cursor_ - 1])) {
        const std::uint64_t sum = (line_[cursor_ - 1] - kHiddenBase) + bytes;
        line_[cursor_ - 1] = kHiddenBase + static_cast<char32_t>(std::min(sum, kMaxHidden));
    } else {
        insert(kHiddenBase + static_cast<char32_t>(std::min(bytes, kMaxHidden)), false);
    }
    afterKey();
}

void TypedLines::kill(std::size_t from, std::size_t to, bool backward) {
    if (from >= to) {
        killedThisKey_ = lastWasKill_;
        return;
    }
    const std::u32string text = line_.substr(from, to - from);
    if (!lastWasKill_) killRing_.clear();
    killRing_ = backward ? text + killRing_ : killRing_ + text;
    erase(from, to);
    killedThisKey_ = true;
}

void TypedLines::erase(std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
        const char32_t c = line_[i];
        // Taken back before its echo came: it will not come.
        if (c >= 0x20 && c <= 0x7E && unechoed_[c - 0x20] > 0) {
            --unechoed_[c - 0x20];
            --total_;
            --unechoedAll_;
        }
    }
    line_.erase(from, to - from);
    if (cursor_ > to) {
        cursor_ -= to - from;
    } else if (cursor_ > from) {
        cursor_ = from;
    }
}

std::size_t TypedLines::wordStartBefore(std::size_t at) const {
    while (at > 0 && !isWordCell(line_[at - 1])) --at;
    while (at > 0 && isWordCell(line_[at - 1])) --at;
    return at;
}

std::size_t TypedLines::wordEndAfter(std::size_t at) const {
    while (at < line_.size() && !isWordCell(line_[at])) ++at;
    while (at < line_.size() && isWordCell(line_[at])) ++at;
    return at;
}

void TypedLines::endLine(std::int64_t elapsedUs) {
    // An Enter on an empty prompt is not a line anyone wants to find.
    if (!line_.empty()) {
        Pending p;
        p.line = {render(), elapsedUs, approximate_};
        p.unechoed = unechoed_;
        p.total = total_;
        p.deadlineUs = elapsedUs + kEchoWaitUs;
        settling_.push_back(std::move(p));
    } else {
        unechoedAll_ -= total_;
    }
    line_.clear();
    cursor_ = 0;
    approximate_ = false;
    unechoed_ = {};
    total_ = 0;
}

std::string TypedLines::render() const {
    std::string out;
    out.reserve(line_.size());
    for (const char32_t c : line_) {
        if (isHidden(c)) {
            out += std::string(kHiddenPrefix) + std::to_string(c - kHiddenBase) + " bytes]";
        } else if (isRaw(c)) {
            recording::detail::appendByteEscape(out, static_cast<unsigned char>(c - kRawByteBase));
        } else if (c < 0x20 && c != '\t') {
            out += '^';
            out += static_cast<char>(c + 0x40);
        } else if (c == kDelete) {
            out += "^?";
        } else {
            recording::detail::appendUtf8(out, c);
        }
    }
    return out;
}

}  // namespace portcullis::review
