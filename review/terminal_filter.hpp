#pragma once
// What `session play` writes to the reviewer's terminal. A recording is
// written by the target, which may be hostile: a terminal answers some
// sequences by "typing" into its input (the reviewer's shell once playback
// ends), and modes such as mouse or focus reporting and modified keys outlive
// the program that set them. So this is an allow-list; everything not on it
// is dropped:
//   - text (UTF-8; a byte that is not valid UTF-8 is shown as "\xNN") and
//     the controls BS, TAB, LF, VT, FF, CR, SO, SI;
//   - SGR colours and attributes (CSI ... m; concealed text, SGR 8, is not);
//   - cursor movement and erase within the screen: CUU CUD CUF CUB CNL CPL
//     CHA CUP HVP VPA VPR HPA HPR CHT CBT, ED and EL (0-2), ECH DCH ICH IL DL
//     SU SD REP, DECSC/DECRC and SCOSC/SCORC, IND NEL RI;
//   - scroll regions (DECSTBM), the alternate screen (?1049 ?1047 ?47 ?1048),
//     the cursor shown or hidden (?25), G0/G1 as ASCII or line drawing.
// Sequences are split as a terminal splits them (recording::VtParser, shared
// with export and search, so that play hides nothing they show): C1 controls
// (U+0080..U+009F) are ESC sequences, and strings (OSC, DCS, APC, PM, SOS:
// titles, clipboard writes, queries) end wherever a terminal ends them.
#include <string>
#include <string_view>

#include "recording/vt_parser.hpp"

namespace portcullis::review {

class TerminalFilter {
  public:
    // Filters output bytes split anywhere; returns what may be written now.
    std::string filter(std::string_view bytes);
    // The end of the output: a character left incomplete, shown as "\xNN".
    std::string finish();
    // What puts the reviewer's terminal back when playback ends, however it
    // ends: out of the alternate screen, a soft reset (DECSTR), and every
    // mode a program could have set turned off (in case the terminal kept one
    // from before: mouse and focus reporting, bracketed paste, modified keys,
    // application keypad and cursor keys, insert and origin modes, margins,
    // character sets, colours, a hidden cursor).
    std::string restoreSequence() const;

  private:
    struct Sink;

    recording::VtParser parser_;
    bool alternateScreen_ = false;
};

}  // namespace portcullis::review
