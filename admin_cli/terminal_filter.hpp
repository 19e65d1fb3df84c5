#pragma once
// What `session play` writes to the reviewer's terminal: the recorded output
// minus what would make that terminal do more than draw. A recording is
// written by the target, which may be hostile, and a terminal answers some
// sequences by "typing" into its input, which is the reviewer's shell once
// playback ends. So the filter drops:
//   - requests for an answer: CSI ... c (device attributes), n (status and
//     cursor reports), t (window operations and reports), x (DECREQTPARM),
//     CSI ... $ p (DECRQM), CSI > ... q (XTVERSION), CSI ? u (keyboard query),
//     ESC Z (DECID) and ENQ;
//   - strings: OSC, DCS, APC, PM and SOS (clipboard writes, titles, tmux and
//     terminal-specific commands, status queries).
// Everything else (text, colours, cursor moves, screen modes) passes unchanged.
#include <string>
#include <string_view>

namespace portcullis::cli {

class TerminalFilter {
  public:
    // Filters output bytes split anywhere; returns what may be written now.
    std::string filter(std::string_view bytes);
    // What puts the reviewer's terminal back as it was when playback stops
    // (maybe mid-way): default colours, the cursor shown, the main screen.
    std::string restoreSequence() const;

  private:
    enum class State { text, escape, csi, string, stringEscape };
    void endCsi(char final, std::string& out);

    State state_ = State::text;
    std::string csi_;  // ESC [ and the parameters so far, held until the final byte
    bool alternateScreen_ = false;
    bool cursorHidden_ = false;
};

}  // namespace portcullis::cli
