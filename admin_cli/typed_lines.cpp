#include "admin_cli/typed_lines.hpp"

namespace portcullis::cli {
namespace {

constexpr unsigned char kEsc = 0x1B;
constexpr unsigned char kBel = 0x07;
constexpr unsigned char kCtrlC = 0x03;
constexpr unsigned char kCtrlU = 0x15;
constexpr unsigned char kCtrlW = 0x17;
constexpr unsigned char kBackspace = 0x08;
constexpr unsigned char kDelete = 0x7F;

bool isContinuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::string TypedLines::feed(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (mode_ == Mode::terminal) {
            terminalByte(c, out);
        } else if (c == '\n') {
            endLine(out);
        } else if (c >= 0x20 || c == '\t') {
            line_ += ch;
        }
        if (line_.size() >= kMaxLine) endLine(out);
    }
    return out;
}

std::string TypedLines::finish() {
    std::string out;
    if (!line_.empty()) endLine(out);
    state_ = State::text;
    return out;
}

void TypedLines::terminalByte(unsigned char c, std::string& out) {
    switch (state_) {
        case State::escape:
            if (c == '[') {
                state_ = State::csi;
            } else if (c == 'O') {
                state_ = State::ss3;
            } else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X') {
                state_ = State::string;
            } else {
                state_ = State::text;  // Alt+key: an editing command, not text
            }
            return;
        case State::csi:
            // Parameters and intermediates 0x20-0x3F, then one final byte.
            if (c < 0x20 || c > 0x3F) state_ = State::text;
            return;
        case State::ss3:
            state_ = State::text;
            return;
        case State::string:
            if (c == kBel) state_ = State::text;
            if (c == kEsc) state_ = State::stringEscape;
            return;
        case State::stringEscape:
            state_ = c == '\\' ? State::text : State::string;
            return;
        case State::text:
            break;
    }
    switch (c) {
        case '\r':
        case '\n':
            endLine(out);
            return;
        case kEsc:
            state_ = State::escape;
            return;
        case kDelete:
        case kBackspace:
            eraseCharacter();
            return;
        case kCtrlU:
            line_.clear();
            return;
        case kCtrlW:
            eraseWord();
            return;
        case kCtrlC:
            if (!line_.empty()) {
                line_ += "^C";
                endLine(out);
            }
            return;
        default:
            if (c >= 0x20 || c == '\t') line_ += static_cast<char>(c);
    }
}

void TypedLines::endLine(std::string& out) {
    // An Enter on an empty prompt is not a line anyone wants to find.
    if (mode_ == Mode::terminal && line_.empty()) return;
    out += line_;
    out += '\n';
    line_.clear();
}

void TypedLines::eraseCharacter() {
    while (!line_.empty() && isContinuation(line_.back())) line_.pop_back();
    if (!line_.empty()) line_.pop_back();
}

void TypedLines::eraseWord() {
    while (!line_.empty() && (line_.back() == ' ' || line_.back() == '\t')) line_.pop_back();
    while (!line_.empty() && line_.back() != ' ' && line_.back() != '\t') line_.pop_back();
}

}  // namespace portcullis::cli
