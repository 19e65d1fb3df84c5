#include "pam_module/log.hpp"

#include <security/pam_ext.h>

namespace portcullis::pam {

std::string printable(std::string_view text, std::size_t limit) {
    std::string out;
    const bool cut = text.size() > limit;
    if (cut) text = text.substr(0, limit);
    out.reserve(text.size() + 3);
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
    }
    if (cut) out += "...";
    return out;
}

void Log::write(int priority, std::string_view message) const noexcept {
    try {
        const std::string line = printable(message, 1024);
        pam_syslog(pamh_, priority, "%s", line.c_str());
    } catch (...) {
        pam_syslog(pamh_, priority, "(a log line could not be formatted)");
    }
}

void Log::denial(int priority, const char* what, const char* detail) const noexcept {
    // pam_syslog's vsyslog passes the text through; syslog escapes control bytes.
    pam_syslog(pamh_, priority, "%s: %.200s: denying", what, detail ? detail : "(none)");
}

}  // namespace portcullis::pam
