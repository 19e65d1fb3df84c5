#include "admin_cli/terminal_filter.hpp"

#include <algorithm>

namespace portcullis::cli {
namespace {

constexpr char kEsc = '\x1b';
constexpr char kBel = '\x07';
constexpr char kEnq = '\x05';
// A CSI longer than this is not one a terminal would act on: dropped.
constexpr std::size_t kMaxCsi = 128;

}  // namespace

std::string TerminalFilter::filter(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (const char c : bytes) {
        switch (state_) {
            case State::text:
                if (c == kEsc) {
                    state_ = State::escape;
                } else if (c != kEnq) {
                    out += c;
                }
                break;
            case State::escape:
                if (c == '[') {
                    state_ = State::csi;
                    csi_ = "\x1b[";
                } else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X') {
                    state_ = State::string;
                } else if (c == 'Z') {
                    state_ = State::text;  // DECID: the terminal would answer
                } else if (c == kEsc) {
                    out += kEsc;  // the first ESC ended nothing; this one may start a sequence
                } else {
                    out += kEsc;
                    out += c;
                    state_ = State::text;
                }
                break;
            case State::csi: {
                const auto byte = static_cast<unsigned char>(c);
                if (byte >= 0x40 && byte <= 0x7E) {
                    endCsi(c, out);
                    state_ = State::text;
                } else if (byte >= 0x20 && byte <= 0x3F && csi_.size() < kMaxCsi) {
                    csi_ += c;
                } else {
                    // Malformed or endless: drop what was held, keep a control such as LF.
                    csi_.clear();
                    state_ = State::text;
                    if (byte < 0x20 && c != kEsc && c != kEnq) out += c;
                    if (c == kEsc) state_ = State::escape;
                }
                break;
            }
            case State::string:
                if (c == kBel) state_ = State::text;
                if (c == kEsc) state_ = State::stringEscape;
                break;
            case State::stringEscape:
                state_ = c == '\\' ? State::text : State::string;
                break;
        }
    }
    return out;
}

void TerminalFilter::endCsi(char final, std::string& out) {
    const std::string_view params = std::string_view(csi_).substr(2);
    const bool privateGt = params.starts_with('>');
    const bool privateQ = params.starts_with('?');
    const bool dollar = params.find('$') != std::string_view::npos;
    const bool asksForAnswer = final == 'c' || final == 'n' || final == 't' || final == 'x' ||
                               (dollar && final == 'p') || (privateGt && final == 'q') ||
                               (privateQ && final == 'u');
    if (privateQ && (final == 'h' || final == 'l')) {
        // DEC private modes: remember those a stop mid-way must undo.
        const bool set = final == 'h';
        std::size_t start = 1;
        while (start <= params.size()) {
            const std::size_t end = std::min(params.find(';', start), params.size());
            const std::string_view mode = params.substr(start, end - start);
            if (mode == "1049" || mode == "1047" || mode == "47") alternateScreen_ = set;
            if (mode == "25") cursorHidden_ = !set;
            start = end + 1;
        }
    }
    if (!asksForAnswer) {
        out += csi_;
        out += final;
    }
    csi_.clear();
}

std::string TerminalFilter::restoreSequence() const {
    std::string out = "\x1b[0m";
    if (cursorHidden_) out += "\x1b[?25h";
    if (alternateScreen_) out += "\x1b[?1049l";
    return out;
}

}  // namespace portcullis::cli
