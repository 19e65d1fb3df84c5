#pragma once
// Text that came from a target, a client or the store (recorded output, typed
// lines, account names, key comments, audit details) as it is shown to a
// person on a terminal: nothing in it may act on that terminal or make one
// string read as another. Controls (C0 but TAB, DEL, and C1, which terminals
// act on when written as UTF-8) and the characters that change how the text
// around them reads without showing themselves (bidirectional controls such as
// U+202E, zero-width and other invisible format characters) are written as
// visible escapes: "\u202E", "\u001B". A byte that is not valid UTF-8 is "\xNN".
#include <string>
#include <string_view>

namespace portcullis::recording {

// Bidirectional controls, zero-width and other invisible format characters.
bool isInvisibleFormat(char32_t c);
// A C0 or C1 control, or DEL.
bool isControl(char32_t c);
// "\u202E" for a BMP code point, "\U000E0001" beyond.
void appendCodePointEscape(std::string& out, char32_t c);
// `text` with every control (TAB excepted) and invisible character escaped.
std::string displayText(std::string_view text);
// One line of such text for a listing: displayText() of at most `maxBytes`
// bytes, cut on a character boundary (before escaping, so that no escape is
// cut in half) and then marked "...".
std::string displayLine(std::string_view line, std::size_t maxBytes = 4096);
// Serialized JSON made safe the same way while staying JSON with the same
// value: such characters inside strings become \u escapes (what a JSON
// serializer leaves raw: DEL, C1, U+202E...); a byte that is not valid UTF-8
// becomes \ufffd.
std::string terminalSafeJson(std::string_view json);
// A logfmt value ("k=v" logs: portcullisd's log, `audit tail`): bare when it is
// plain printable ASCII without '"', '=' or '\\'; else quoted, with '"' and '\\'
// escaped first (so that a typed "\u202E" is not read as an escape) and then
// every control and invisible character escaped as displayText() does.
std::string logfmtValue(std::string_view value);

}  // namespace portcullis::recording
