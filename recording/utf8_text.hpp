#pragma once
// UTF-8 validation shared by the asciicast writer, the header (strings from
// clients, such as an exec command, may be any bytes), the terminal parser and
// the display of recorded text.
#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::recording::detail {

// What starts at s[0]: a complete valid character of `length` bytes, a valid
// but incomplete prefix (s ends too soon), or a byte that is not valid UTF-8
// here (it is escaped on its own and decoding resumes at the next byte).
struct Utf8Step {
    enum Kind { character, incomplete, invalid } kind;
    std::size_t length;
};

// Appends the UTF-8 form of code point `c` (a valid scalar value).
inline void appendUtf8(std::string& out, char32_t c) {
    if (c < 0x80) {
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

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
inline Utf8Step utf8Step(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return {Utf8Step::character, 1};
    std::size_t length = 0;
    unsigned char low = 0x80;  // allowed range of the second byte
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        return {Utf8Step::invalid, 1};
    }
    for (std::size_t i = 1; i < length; ++i) {
        if (i >= s.size()) return {Utf8Step::incomplete, s.size()};
        const unsigned char b = byte(i);
        const unsigned char lo = i == 1 ? low : 0x80;
        const unsigned char hi = i == 1 ? high : 0xBF;
        if (b < lo || b > hi) return {Utf8Step::invalid, 1};
    }
    return {Utf8Step::character, length};
}

// The code point of a complete valid character of 2 to 4 bytes (utf8Step said so).
inline char32_t decodeUtf8(std::string_view s) {
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

// The four visible characters "\xNN" for a byte that is not valid UTF-8.
inline void appendByteEscape(std::string& out, unsigned char b) {
    constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0x0F];
}

// `bytes` as valid UTF-8, every invalid or incomplete byte written as "\xNN".
inline std::string toValidUtf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    while (i < bytes.size()) {
        const Utf8Step step = utf8Step(bytes.substr(i));
        if (step.kind == Utf8Step::character) {
            out.append(bytes.substr(i, step.length));
            i += step.length;
        } else {
            appendByteEscape(out, static_cast<unsigned char>(bytes[i]));
            ++i;
        }
    }
    return out;
}

}  // namespace portcullis::recording::detail
