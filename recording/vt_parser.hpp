#pragma once
// How a terminal splits output into characters, controls and sequences: the
// one tokenizer behind `session export --format text` and `session search`
// (ScreenText) and `session play` (the CLI's TerminalFilter), so that play
// never hides text that export shows. It follows the DEC/ECMA-48 parser that
// xterm, VTE and tmux implement:
//   - UTF-8 is decoded first; a byte that is not valid UTF-8 is a character
//     of its own (the handler shows it as "\xNN").
//   - C1 controls (U+0080..U+009F, which terminals act on when written as
//     UTF-8) are the same as ESC followed by the code point minus 0x40:
//     U+009B is CSI, U+009D OSC, U+0090 DCS, U+009C ST.
//   - A string (OSC, DCS, SOS, PM, APC) ends at BEL, ST, CAN, SUB, ESC
//     followed by anything (which then starts a sequence) or any other C1
//     control; after kMaxStringBody bytes it is abandoned and what follows
//     is text again. Strings are dropped: nothing in them is shown.
//   - CAN and SUB abort any sequence; ESC starts a new one; other C0
//     controls are executed in the middle of a sequence, as terminals do.
//   - A CSI longer than kMaxCsi bytes is consumed up to its final byte and
//     dropped.
// The Handler is any type with:
//   void print(char32_t c);            a character; kRawByteBase + b for an invalid byte b
//   void execute(unsigned char c);     a C0 control other than ESC, or DEL in text
//   void escDispatch(std::string_view intermediates, unsigned char final);
//   void csiDispatch(std::string_view params, unsigned char final);
//        params: the bytes 0x20..0x3F between CSI and the final byte
#include <cstddef>
#include <string>
#include <string_view>

#include "recording/utf8_text.hpp"

namespace portcullis::recording {

class VtParser {
  public:
    static constexpr char32_t kRawByteBase = 0xDC00;  // lone surrogates: never valid UTF-8
    static constexpr std::size_t kMaxStringBody = 1u << 16;
    static constexpr std::size_t kMaxCsi = 64;
    static constexpr std::size_t kMaxIntermediates = 4;

    template <class Handler>
    void feed(std::string_view bytes, Handler& h) {
        for (const char ch : bytes) {
            const auto c = static_cast<unsigned char>(ch);
            // Fast path: printable ASCII in text.
            if (state_ == State::ground && pending_.empty() && c >= 0x20 && c < 0x7F) {
                h.print(c);
            } else if (c < 0x80 && pending_.empty()) {
                unit(c, h);
            } else {
                highByte(c, h);
            }
        }
    }
    // The end of the stream: an incomplete character is shown byte by byte.
    template <class Handler>
    void finish(Handler& h) {
        flushPending(h);
        state_ = State::ground;
        collected_.clear();
    }
    bool inText() const { return state_ == State::ground; }

  private:
    enum class State { ground, escape, escapeIntermediate, csi, csiIgnore, string, stringEscape };

    static bool isRaw(char32_t u) { return u >= kRawByteBase + 0x80 && u <= kRawByteBase + 0xFF; }

    template <class Handler>
    void highByte(unsigned char c, Handler& h) {
        if (c < 0x80) {
            flushPending(h);  // an ASCII byte ends any incomplete character
            unit(c, h);
            return;
        }
        pending_ += static_cast<char>(c);
        const detail::Utf8Step step = detail::utf8Step(pending_);
        if (step.kind == detail::Utf8Step::incomplete) return;
        if (step.kind == detail::Utf8Step::character) {
            const char32_t cp = detail::decodeUtf8(pending_);
            pending_.clear();
            unit(cp, h);
            return;
        }
        // The first byte cannot start a character: it stands alone, the rest is looked at again.
        const std::string rest = pending_.substr(1);
        const auto first = static_cast<unsigned char>(pending_[0]);
        pending_.clear();
        unit(kRawByteBase + first, h);
        for (const char r : rest) highByte(static_cast<unsigned char>(r), h);
    }

    template <class Handler>
    void flushPending(Handler& h) {
        const std::string bytes = std::move(pending_);
        pending_.clear();
        for (const char b : bytes) unit(kRawByteBase + static_cast<unsigned char>(b), h);
    }

    // One decoded unit: an ASCII byte, a code point, or kRawByteBase + an invalid byte.
    template <class Handler>
    void unit(char32_t u, Handler& h) {
        if (u >= 0x80 && u <= 0x9F) {
            c1(static_cast<unsigned char>(u - 0x40), h);
            return;
        }
        if (u == 0x18 || u == 0x1A) {  // CAN, SUB: abort whatever was going on
            if (state_ == State::ground) {
                h.execute(static_cast<unsigned char>(u));
            } else {
                state_ = State::ground;
            }
            return;
        }
        switch (state_) {
            case State::ground:
                if (u == 0x1B) {
                    enter(State::escape);
                } else if (u < 0x20 || u == 0x7F) {
                    h.execute(static_cast<unsigned char>(u));
                } else {
                    h.print(u);
                }
                return;
            case State::escape:
            case State::escapeIntermediate:
            case State::csi:
            case State::csiIgnore:
                sequenceUnit(u, h);
                return;
            case State::string:
                if (u == 0x07) {
                    state_ = State::ground;
                } else if (u == 0x1B) {
                    state_ = State::stringEscape;
                } else if (++stringLength_ > kMaxStringBody) {
                    state_ = State::ground;  // abandoned: what follows is text again
                }
                return;
            case State::stringEscape:
                if (u == '\\') {
                    state_ = State::ground;  // ST
                } else {
                    enter(State::escape);  // the string ended; a new sequence starts
                    unit(u, h);
                }
                return;
        }
    }

    template <class Handler>
    void sequenceUnit(char32_t u, Handler& h) {
        if (u == 0x1B) {
            enter(State::escape);
            return;
        }
        if (u < 0x20) {
            h.execute(static_cast<unsigned char>(u));  // executed mid-sequence, as terminals do
            return;
        }
        if (u == 0x7F) return;  // ignored inside sequences
        if (u > 0x7F) {
            // Not a sequence after all: the character shows.
            state_ = State::ground;
            collected_.clear();
            h.print(u);
            return;
        }
        const auto c = static_cast<unsigned char>(u);
        switch (state_) {
            case State::escape:
                if (c == '[') {
                    enter(State::csi);
                } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
                    enter(State::string);  // OSC, DCS, SOS, PM, APC
                } else if (c < 0x30) {
                    collected_ += static_cast<char>(c);
                    state_ = State::escapeIntermediate;
                } else {
                    state_ = State::ground;
                    h.escDispatch({}, c);
                }
                return;
            case State::escapeIntermediate:
                if (c < 0x30) {
                    if (collected_.size() < kMaxIntermediates) collected_ += static_cast<char>(c);
                } else {
                    state_ = State::ground;
                    h.escDispatch(collected_, c);
                    collected_.clear();
                }
                return;
            case State::csi:
            case State::csiIgnore:
                if (c >= 0x40) {
                    const bool dispatch = state_ == State::csi;
                    state_ = State::ground;
                    if (dispatch) h.csiDispatch(collected_, c);
                    collected_.clear();
                } else if (state_ == State::csi) {
                    collected_ += static_cast<char>(c);
                    if (collected_.size() > kMaxCsi) {
                        state_ = State::csiIgnore;
                        collected_.clear();
                    }
                }
                return;
            default:
                return;
        }
    }

    // A C1 control: ESC and `c` (0x40..0x5F), wherever it comes.
    template <class Handler>
    void c1(unsigned char c, Handler& h) {
        if (state_ == State::string || state_ == State::stringEscape) {
            state_ = State::ground;  // any C1 ends a string; ST ends it and nothing more
            if (c == '\\') return;
        }
        enter(State::escape);
        unit(c, h);
    }

    void enter(State s) {
        state_ = s;
        collected_.clear();
        stringLength_ = 0;
    }

    State state_ = State::ground;
    std::string collected_;  // CSI parameters or ESC intermediates so far
    std::size_t stringLength_ = 0;
    std::string pending_;  // the start of a multi-byte character split across feeds
};

}  // namespace portcullis::recording
