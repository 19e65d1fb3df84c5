#include "recording/cast_writer.hpp"

#include <cstdio>

#include "recording/utf8_text.hpp"

namespace portcullis::recording {

namespace {

bool isPlainAscii(unsigned char c) {
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

// JSON string body for valid UTF-8 text plus "\xNN" for invalid bytes.
void appendJsonChar(std::string& out, unsigned char c) {
    switch (c) {
        case '"':
            out += "\\\"";
            return;
        case '\\':
            out += "\\\\";
            return;
        case '\n':
            out += "\\n";
            return;
        case '\r':
            out += "\\r";
            return;
        case '\t':
            out += "\\t";
            return;
        case '\b':
            out += "\\b";
            return;
        case '\f':
            out += "\\f";
            return;
        default:
            break;
    }
    if (c < 0x20 || c == 0x7F) {
        constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0F];
        return;
    }
    out += static_cast<char>(c);
}

// The escape "\xNN" inside a JSON string: its backslash is itself escaped.
void appendJsonByteEscape(std::string& out, unsigned char b) {
    constexpr char kHex[] = "0123456789abcdef";
    const char escape[5] = {'\\', '\\', 'x', kHex[b >> 4], kHex[b & 0x0F]};
    out.append(escape, sizeof escape);
}

// Escapes `bytes`; an incomplete character at the end is returned in `held`
// when `holdTail`, escaped otherwise.
void appendEscaped(std::string& out, std::string_view bytes, bool holdTail, std::string& held) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        // Runs of bytes that need no escaping are copied at once (most output).
        std::size_t run = i;
        while (run < bytes.size() && isPlainAscii(static_cast<unsigned char>(bytes[run]))) ++run;
        if (run > i) {
            out.append(bytes.substr(i, run - i));
            i = run;
            if (i == bytes.size()) break;
        }
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c < 0x80) {
            appendJsonChar(out, c);
            ++i;
            continue;
        }
        const detail::Utf8Step step = detail::utf8Step(bytes.substr(i));
        if (step.kind == detail::Utf8Step::character) {
            out.append(bytes.substr(i, step.length));
            i += step.length;
        } else if (step.kind == detail::Utf8Step::incomplete && holdTail) {
            held.assign(bytes.substr(i));
            return;
        } else {
            appendJsonByteEscape(out, c);
            ++i;
        }
    }
}

std::string eventLine(std::int64_t elapsedUs, char code, const std::string& escapedData) {
    std::string line;
    line.reserve(escapedData.size() + 32);
    line += '[';
    line += castTime(elapsedUs);
    line += ", \"";
    line += code;
    line += "\", \"";
    line += escapedData;
    line += "\"]\n";
    return line;
}

}  // namespace

std::string castHeaderLine(const RecordingMeta& meta) {
    return headerJson(meta).dump() + "\n";
}

std::string CastStreamEncoder::encode(std::int64_t elapsedUs, std::string_view bytes) {
    std::string data;
    data.reserve(bytes.size() + 16);
    if (held_.empty()) {
        appendEscaped(data, bytes, true, held_);
    } else {
        // Rare (a character split by the read): one copy keeps the scan simple.
        std::string joined = std::move(held_);
        held_.clear();
        joined.append(bytes);
        appendEscaped(data, joined, true, held_);
    }
    if (data.empty()) return {};
    return eventLine(elapsedUs, code_, data);
}

std::string CastStreamEncoder::finish(std::int64_t elapsedUs) {
    if (held_.empty()) return {};
    std::string data;
    for (const char c : held_) appendJsonByteEscape(data, static_cast<unsigned char>(c));
    held_.clear();
    return eventLine(elapsedUs, code_, data);
}

std::string castResizeLine(std::int64_t elapsedUs, int cols, int rows) {
    return eventLine(elapsedUs, 'r', std::to_string(cols) + "x" + std::to_string(rows));
}

std::string castTime(std::int64_t elapsedUs) {
    if (elapsedUs < 0) elapsedUs = 0;  // a clock step back must not make invalid JSON
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%lld.%06lld", static_cast<long long>(elapsedUs / 1000000),
                  static_cast<long long>(elapsedUs % 1000000));
    return buffer;
}

}  // namespace portcullis::recording
