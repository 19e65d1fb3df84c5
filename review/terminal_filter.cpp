#include "review/terminal_filter.hpp"

#include <charconv>
#include <vector>

#include "recording/utf8_text.hpp"

namespace portcullis::review {
namespace {

constexpr char kEsc = '\x1b';
// REP and the counts of the other allowed sequences: more is no picture, only
// work (the text renderer clamps at the same bound).
constexpr unsigned kMaxCount = 65536;

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

// Each number at most kMaxCount (a terminal clamps them to its screen anyway).
std::string clampCounts(std::string_view params) {
    std::string out;
    bool first = true;
    for (const auto part : split(params, ';')) {
        if (!first) out += ';';
        first = false;
        unsigned value = 0;
        const auto r = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty()) continue;
        out += r.ec == std::errc() && value <= kMaxCount ? std::string(part)
                                                         : std::to_string(kMaxCount);
    }
    return out;
}

std::size_t paramCount(std::string_view params) {
    return params.empty() ? 0 : split(params, ';').size();
}

// The number an SGR parameter starts with ("" is 0, "38:2:..." is 38).
unsigned sgrNumber(std::string_view part) {
    unsigned value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    return value;
}

// SGR without concealed text (8), the attribute that draws nothing; colour
// arguments (38;5;8, 48;2;8;8;8) are kept. "drop" when nothing is left.
std::string sgrWithoutConceal(std::string_view params) {
    const auto parts = split(params, ';');
    std::string out;
    bool any = false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const unsigned number = sgrNumber(parts[i]);
        const bool colon = parts[i].find(':') != std::string_view::npos;
        std::size_t take = 1;
        if (!colon && (number == 38 || number == 48 || number == 58) && i + 1 < parts.size()) {
            const unsigned kind = sgrNumber(parts[i + 1]);
            take = kind == 5 ? 3 : kind == 2 ? 5 : 1;
        } else if (number == 8) {
            continue;
        }
        for (std::size_t k = i; k < i + take && k < parts.size(); ++k) {
            if (any) out += ';';
            out += parts[k];
            any = true;
        }
        i += take - 1;
    }
    return any || params.empty() ? out : "drop";
}

bool allowedPrivateMode(std::string_view mode) {
    return mode == "25" || mode == "1049" || mode == "1047" || mode == "47" || mode == "1048";
}

}  // namespace

// What the parser calls, for one filter() call.
struct TerminalFilter::Sink {
    TerminalFilter& filter;
    std::string& out;

    void print(char32_t c) {
        constexpr char32_t raw = recording::VtParser::kRawByteBase;
        if (c >= raw + 0x80 && c <= raw + 0xFF) {
            recording::detail::appendByteEscape(out, static_cast<unsigned char>(c - raw));
        } else {
            recording::detail::appendUtf8(out, c);
        }
    }

    void execute(unsigned char c) {
        // BS TAB LF VT FF CR SO SI; not BEL, ENQ (answerback) and the rest.
        if (c == 0x08 || c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D ||
            c == 0x0E || c == 0x0F) {
            out += static_cast<char>(c);
        }
    }

    void escDispatch(std::string_view intermediates, unsigned char final) {
        // DECSC DECRC IND NEL RI; G0/G1 designated as ASCII or line drawing.
        const bool plain = intermediates.empty() && (final == '7' || final == '8' || final == 'D' ||
                                                     final == 'E' || final == 'M');
        const bool charset =
            (intermediates == "(" || intermediates == ")") && (final == 'B' || final == '0');
        if (!plain && !charset) return;
        out += kEsc;
        out += intermediates;
        out += static_cast<char>(final);
    }

    void emitCsi(std::string_view params, unsigned char final) {
        out += kEsc;
        out += '[';
        out += params;
        out += static_cast<char>(final);
    }

    void csiDispatch(std::string_view params, unsigned char final) {
        const bool digits = params.find_first_not_of("0123456789;") == std::string_view::npos;
        if (final == 'm' && params.find_first_not_of("0123456789;:") == std::string_view::npos) {
            const std::string kept = sgrWithoutConceal(params);
            if (kept != "drop") emitCsi(kept, final);
            return;
        }
        if (params.starts_with('?') && (final == 'h' || final == 'l')) {
            privateModes(params.substr(1), final);
            return;
        }
        if (!digits) return;  // private, intermediates
        const std::string clamped = clampCounts(params);
        params = clamped;
        const std::size_t count = paramCount(params);
        switch (final) {
            case 'A':  // CUU CUD CUF CUB CNL CPL CHA CUP HVP VPA VPR HPR HPA CHT CBT
            case 'B':
            case 'C':
            case 'D':
            case 'E':
            case 'F':
            case 'G':
            case 'H':
            case 'f':
            case 'd':
            case 'e':
            case 'a':
            case '`':
            case 'I':
            case 'Z':
            case 'X':  // ECH DCH ICH IL DL REP
            case 'P':
            case '@':
            case 'L':
            case 'M':
            case 'b':
                emitCsi(params, final);
                return;
            case 'S':  // SU SD (with more parameters, T starts mouse highlighting)
            case 'T':
                if (count <= 1) emitCsi(params, final);
                return;
            case 'J':  // ED EL 0-2 (3 erases the reviewer's scrollback)
            case 'K': {
                unsigned mode = 0;
                const auto first = split(params, ';').front();
                std::from_chars(first.data(), first.data() + first.size(), mode);
                if (mode <= 2) emitCsi(params, final);
                return;
            }
            case 'r':  // DECSTBM
                if (count <= 2) emitCsi(params, final);
                return;
            case 's':  // SCOSC SCORC (with parameters, other meanings)
            case 'u':
                if (params.empty()) emitCsi(params, final);
                return;
            default:
                return;  // modes, reports, window operations, printing, tab stops...
        }
    }

    // DEC private modes: only the alternate screen, saved cursor and cursor visibility.
    void privateModes(std::string_view modes, unsigned char final) {
        if (modes.find_first_not_of("0123456789;") != std::string_view::npos) return;
        std::string kept;
        for (const auto mode : split(modes, ';')) {
            if (!allowedPrivateMode(mode)) continue;
            if (mode == "1049" || mode == "1047" || mode == "47") {
                filter.alternateScreen_ = final == 'h';
            }
            if (!kept.empty()) kept += ';';
            kept += mode;
        }
        if (!kept.empty()) emitCsi("?" + kept, final);
    }
};

std::string TerminalFilter::filter(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    Sink sink{*this, out};
    parser_.feed(bytes, sink);
    return out;
}

std::string TerminalFilter::finish() {
    std::string out;
    Sink sink{*this, out};
    parser_.finish(sink);
    return out;
}

std::string TerminalFilter::restoreSequence() const {
    std::string out;
    if (alternateScreen_) out += "\x1b[?1049l";  // back to the reviewer's screen and cursor
    out +=
        "\x1b[!p"                               // DECSTR: soft reset
        "\x1b[0m\x1b[?25h\x1b[r"                // colours, the cursor shown, no scroll region
        "\x1b(B\x1b)B\x0f"                      // ASCII character sets
        "\x1b[?1l\x1b>\x1b[4l\x1b[?6l\x1b[?7h"  // cursor keys, keypad, insert, origin, wrap
        "\x1b[?9l\x1b[?1000l\x1b[?1001l\x1b[?1002l\x1b[?1003l"  // mouse reporting
        "\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l"          // mouse encodings
        "\x1b[?1004l\x1b[?2004l"                                // focus reports, bracketed paste
        "\x1b[>4m";  // modifyOtherKeys back to the default
    return out;
}

}  // namespace portcullis::review
