#pragma once
// Test support (issue 21 finding 2): an independent check of the bytes
// `session play` may write to a reviewer's terminal, written from the
// allow-list in review/terminal_filter.hpp rather than from its code:
// text (valid UTF-8 without C1 controls), BS TAB LF VT FF CR SO SI, SGR
// without concealed text, cursor moves and erases within the screen, scroll
// regions, the alternate screen, cursor visibility, G0/G1 as ASCII or line
// drawing. Anything else (a mode, a query a terminal answers, a string) is a
// violation. The modes the allowed sequences can set are tracked, so that a
// test can check the restore sequence turns every one of them off.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::test {

struct AllowedModes {
    bool alternateScreen = false;
    bool cursorHidden = false;
    bool scrollRegion = false;
    bool attributes = false;   // SGR other than a reset
    bool lineDrawing = false;  // G0 or G1 designated as DEC special graphics
    bool shiftedOut = false;   // SO: G1 in use
};

namespace allow_list_detail {

inline std::vector<std::string_view> split(std::string_view text) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = text.find(';', start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

inline unsigned number(std::string_view part) {
    unsigned value = 0;
    for (const char c : part) {
        if (c < '0' || c > '9') break;
        value = value * 10 + static_cast<unsigned>(c - '0');
        if (value > 1000000) return 1000000;
    }
    return value;
}

inline bool digitsOnly(std::string_view s) {
    return s.find_first_not_of("0123456789;") == std::string_view::npos;
}

}  // namespace allow_list_detail

// "" when every byte of `out` is allowed; otherwise what is not, and where.
inline std::string checkAllowListed(std::string_view out, AllowedModes& modes) {
    using namespace allow_list_detail;
    const auto at = [&](std::size_t i, const std::string& what) {
        return what + " at byte " + std::to_string(i);
    };
    std::size_t i = 0;
    while (i < out.size()) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c >= 0x20 && c < 0x7F) {
            ++i;
            continue;
        }
        if (c == 0x0E || c == 0x0F) {
            modes.shiftedOut = c == 0x0E;
            ++i;
            continue;
        }
        if (c == 0x08 || c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            // Valid UTF-8 (no overlong forms, no surrogates), never a C1 control.
            std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
            if (length == 0 || c < 0xC2 || c > 0xF4 || i + length > out.size()) {
                return at(i, "invalid UTF-8");
            }
            char32_t cp = c & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
            for (std::size_t k = 1; k < length; ++k) {
                const auto b = static_cast<unsigned char>(out[i + k]);
                if ((b & 0xC0) != 0x80) return at(i, "invalid UTF-8");
                cp = cp << 6 | (b & 0x3F);
            }
            const char32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
            if (cp < minimum || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
                return at(i, "invalid UTF-8");
            }
            if (cp <= 0x9F) return at(i, "a C1 control");
            i += length;
            continue;
        }
        if (c != 0x1B) return at(i, "control " + std::to_string(c));
        if (i + 1 >= out.size()) return at(i, "a lone ESC");
        const char next = out[i + 1];
        if (next == '7' || next == '8' || next == 'D' || next == 'E' || next == 'M') {
            i += 2;
            continue;
        }
        if (next == '(' || next == ')') {
            if (i + 2 >= out.size() || (out[i + 2] != '0' && out[i + 2] != 'B')) {
                return at(i, "a character set other than ASCII or line drawing");
            }
            if (out[i + 2] == '0') modes.lineDrawing = true;
            i += 3;
            continue;
        }
        if (next != '[') return at(i, std::string("ESC ") + next);
        std::size_t end = i + 2;
        while (end < out.size() && static_cast<unsigned char>(out[end]) >= 0x20 &&
               static_cast<unsigned char>(out[end]) <= 0x3F) {
            ++end;
        }
        if (end >= out.size()) return at(i, "an unfinished CSI");
        const std::string_view params = out.substr(i + 2, end - i - 2);
        const char final = out[end];
        const std::string what = "CSI " + std::string(params) + " " + final;
        i = end + 1;
        if (params.starts_with('?')) {
            const std::string_view list = params.substr(1);
            if ((final != 'h' && final != 'l') || list.empty() || !digitsOnly(list)) {
                return at(end, "private " + what);
            }
            for (const auto mode : split(list)) {
                if (mode == "25") {
                    modes.cursorHidden = final == 'l';
                } else if (mode == "1049" || mode == "1047" || mode == "47") {
                    modes.alternateScreen = final == 'h';
                } else if (mode != "1048") {
                    return at(end, "DEC private mode " + std::string(mode));
                }
            }
            continue;
        }
        if (final == 'm') {
            if (params.find_first_not_of("0123456789;:") != std::string_view::npos) {
                return at(end, what);
            }
            const auto parts = split(params);
            for (std::size_t k = 0; k < parts.size(); ++k) {
                const bool colon = parts[k].find(':') != std::string_view::npos;
                const unsigned n = number(parts[k]);
                if (!colon && (n == 38 || n == 48 || n == 58) && k + 1 < parts.size()) {
                    const unsigned kind = number(parts[k + 1]);
                    k += kind == 5 ? 2 : kind == 2 ? 4 : 0;
                    modes.attributes = true;
                    continue;
                }
                if (n == 8) return at(end, "concealed text (SGR 8)");
                modes.attributes = n != 0;
            }
            continue;
        }
        if (!digitsOnly(params)) return at(end, what);
        const auto parts = split(params);
        const std::size_t count = params.empty() ? 0 : parts.size();
        static constexpr std::string_view kMoves = "ABCDEFGHfdea`IZXP@LMb";
        if (kMoves.find(final) != std::string_view::npos) continue;
        if ((final == 'S' || final == 'T') && count <= 1) continue;
        if ((final == 'J' || final == 'K') && number(parts.front()) <= 2) continue;
        if (final == 'r' && count <= 2) {
            modes.scrollRegion = count > 0;
            continue;
        }
        if ((final == 's' || final == 'u') && count == 0) continue;
        return at(end, what);
    }
    return "";
}

}  // namespace portcullis::test
