#include "recording/display_text.hpp"

#include <algorithm>

#include "recording/utf8_text.hpp"

namespace portcullis::recording {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

// Calls `keep(bytes)` for what may be shown as it is and `escape(cp)` or
// `invalid(byte)` for the rest.
template <class Keep, class Escape, class Invalid>
void scan(std::string_view text, bool keepTabAndNewline, Keep keep, Escape escape,
          Invalid invalid) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead >= 0x20 && lead < 0x7F) {
            std::size_t end = i + 1;
            while (end < text.size() && static_cast<unsigned char>(text[end]) >= 0x20 &&
                   static_cast<unsigned char>(text[end]) < 0x7F) {
                ++end;
            }
            keep(text.substr(i, end - i));
            i = end;
            continue;
        }
        const detail::Utf8Step step = detail::utf8Step(text.substr(i));
        if (step.kind != detail::Utf8Step::character) {
            invalid(lead);
            ++i;
            continue;
        }
        const std::string_view bytes = text.substr(i, step.length);
        const char32_t cp = step.length == 1 ? lead : detail::decodeUtf8(bytes);
        const bool allowedControl = keepTabAndNewline ? (cp == '\t' || cp == '\n') : cp == '\t';
        if ((isControl(cp) && !allowedControl) || isInvisibleFormat(cp)) {
            escape(cp);
        } else {
            keep(bytes);
        }
        i += step.length;
    }
}

}  // namespace

bool isInvisibleFormat(char32_t c) {
    return c == 0x00AD || c == 0x034F || c == 0x061C || c == 0x115F || c == 0x1160 || c == 0x17B4 ||
           c == 0x17B5 || (c >= 0x180B && c <= 0x180F) || (c >= 0x200B && c <= 0x200F) ||
           (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0x3164 ||
           c == 0xFEFF || c == 0xFFA0 || (c >= 0xFFF9 && c <= 0xFFFB) ||
           (c >= 0x1BCA0 && c <= 0x1BCA3) || (c >= 0x1D173 && c <= 0x1D17A) ||
           (c >= 0xE0000 && c <= 0xE0FFF);
}

bool isControl(char32_t c) {
    return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

void appendCodePointEscape(std::string& out, char32_t c) {
    const int digits = c > 0xFFFF ? 8 : 4;
    out += c > 0xFFFF ? "\\U" : "\\u";
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(c >> shift) & 0xF];
}

std::string displayText(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    scan(
        text, false, [&](std::string_view bytes) { out += bytes; },
        [&](char32_t cp) { appendCodePointEscape(out, cp); },
        [&](unsigned char b) { detail::appendByteEscape(out, b); });
    return out;
}

std::string displayLine(std::string_view line, std::size_t maxBytes) {
    if (line.size() <= maxBytes) return displayText(line);
    std::size_t end = 0;
    while (end < line.size()) {
        const std::size_t length = detail::utf8Step(line.substr(end)).length;
        if (end + length > maxBytes) break;
        end += length;
    }
    return displayText(line.substr(0, end)) + "...";
}

std::string terminalSafeJson(std::string_view json) {
    std::string out;
    out.reserve(json.size());
    scan(
        json, true, [&](std::string_view bytes) { out += bytes; },
        [&](char32_t cp) {
            if (cp > 0xFFFF) {  // JSON spells it as a UTF-16 surrogate pair
                const char32_t v = cp - 0x10000;
                appendCodePointEscape(out, 0xD800 + (v >> 10));
                appendCodePointEscape(out, 0xDC00 + (v & 0x3FF));
            } else {
                appendCodePointEscape(out, cp);
            }
        },
        [&](unsigned char) { out += "\\ufffd"; });
    return out;
}

std::string logfmtValue(std::string_view value) {
    const bool bare = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7F && c != '"' && c != '=' && c != '\\';
    });
    if (bare) return std::string(value);
    std::string quoted;
    for (const char c : value) {
        if (c == '"' || c == '\\') quoted += '\\';
        if (c == '\t') {
            quoted += "\\t";
            continue;
        }
        quoted += c;
    }
    return '"' + displayText(quoted) + '"';
}

}  // namespace portcullis::recording
