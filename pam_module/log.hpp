#pragma once
// Syslog lines through pam_syslog (facility authpriv, "pam_portcullis(SERVICE:auth): ...").
// Everything logged passes through printable(): what a user typed never puts
// control characters or unbounded text into the log.
#include <security/pam_modules.h>
#include <syslog.h>

#include <string>
#include <string_view>

namespace portcullis::pam {

// Control and non-ASCII bytes become '?', and the text is cut at `limit` bytes.
std::string printable(std::string_view text, std::size_t limit = 128);

class Log {
  public:
    Log(pam_handle_t* pamh, bool debug) : pamh_(pamh), debug_(debug) {}
    // Never throws: a line that cannot be built is replaced by a short notice.
    void write(int priority, std::string_view message) const noexcept;
    // "WHAT: DETAIL: denying" without allocating (for exception handlers).
    void denial(int priority, const char* what, const char* detail) const noexcept;
    void debug(std::string_view message) const {
        if (debug_) write(LOG_DEBUG, message);
    }
    void setDebug(bool debug) { debug_ = debug; }

  private:
    pam_handle_t* pamh_;
    bool debug_;
};

}  // namespace portcullis::pam
