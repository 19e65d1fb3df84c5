#include "gateway/secret_prompt.hpp"

#include <string.h>

#include <algorithm>

namespace portcullis::gateway {

Result<std::shared_ptr<const SecretPromptPattern>> SecretPromptPattern::compile(
    const std::string& pattern) {
    if (pattern.empty()) return makeError("an empty pattern would match every line");
    if (pattern.size() > kMaxSecretPromptsLength) {
        return makeError("longer than " + std::to_string(kMaxSecretPromptsLength) + " characters");
    }
    auto compiled = std::make_shared<SecretPromptPattern>(Private{});
    // Anchored here, so that the operator's pattern needs no `$`.
    const std::string anchored = "(" + pattern + ")$";
    if (const int rc =
            ::regcomp(&compiled->regex_, anchored.c_str(), REG_EXTENDED | REG_ICASE | REG_NOSUB);
        rc != 0) {
        char message[256];
        ::regerror(rc, &compiled->regex_, message, sizeof message);
        return makeError(std::string("not a POSIX extended regular expression: ") + message);
    }
    compiled->compiled_ = true;
    compiled->text_ = pattern;
    return std::shared_ptr<const SecretPromptPattern>(std::move(compiled));
}

bool SecretPromptPattern::matches(const std::string& line) const {
    return ::regexec(&regex_, line.c_str(), 0, nullptr, 0) == 0;
}

void HiddenInputTracker::newLine() {
    line_.clear();
    lineChanged_ = true;
}

void HiddenInputTracker::output(std::string_view bytes) {
    // Only the last line matters: bulk output costs one backward search for
    // its last CR or LF (which also ends any escape sequence here), then only
    // what follows is looked at.
    const auto* lf = static_cast<const char*>(::memrchr(bytes.data(), '\n', bytes.size()));
    const auto* cr = static_cast<const char*>(::memrchr(bytes.data(), '\r', bytes.size()));
    const char* last = !lf ? cr : !cr ? lf : std::max(lf, cr);
    if (last) {
        newLine();
        escape_ = Escape::none;
        bytes.remove_prefix(static_cast<std::size_t>(last - bytes.data()) + 1);
    }
    // A small terminal model: escape sequences (CSI, OSC/DCS/APC strings, ESC
    // with intermediates) are dropped, other control characters ignored.
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        switch (escape_) {
            case Escape::esc:
                if (c == '[') {
                    escape_ = Escape::csi;
                } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
                    escape_ = Escape::string;
                } else if (c >= 0x20 && c <= 0x2f) {
                    escape_ = Escape::intermediate;
                } else {
                    escape_ = Escape::none;
                }
                continue;
            case Escape::csi:
                if (c >= 0x40 && c <= 0x7e) escape_ = Escape::none;
                if (c == 0x18 || c == 0x1a) escape_ = Escape::none;
                continue;
            case Escape::string:
                if (c == 0x07 || c == 0x18 || c == 0x1a) escape_ = Escape::none;
                if (c == 0x1b) escape_ = Escape::stringEsc;
                continue;
            case Escape::stringEsc:
                // ESC \ ends the string; ESC and anything else ends it as well.
                escape_ = Escape::none;
                continue;
            case Escape::intermediate:
                if (c >= 0x30 && c <= 0x7e) escape_ = Escape::none;
                continue;
            case Escape::none:
                break;
        }
        if (c == 0x1b) {
            escape_ = Escape::esc;
        } else if (c == 0x08) {
            if (!line_.empty()) line_.pop_back();
            lineChanged_ = true;
        } else if (c >= 0x20 && c != 0x7f) {
            line_ += static_cast<char>(c);
            lineChanged_ = true;
            if (line_.size() > kPromptTail) line_.erase(0, line_.size() - kPromptTail);
        } else if (c == '\t') {
            line_ += ' ';
            lineChanged_ = true;
        }
    }
}

std::size_t HiddenInputTracker::input(std::string_view bytes) {
    if (!hidden_) {
        // The expression runs at most once per output change, and only when
        // the user types: bulk output costs nothing here.
        if (lineChanged_) {
            lineChanged_ = false;
            atPrompt_ = pattern_ && pattern_->matches(line_);
        }
        if (!atPrompt_) return 0;
        hidden_ = true;
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c == '\r' || c == '\n' || c == 0x03 || c == 0x04) {
            hidden_ = false;
            // The answered prompt does not count again: a new one must be printed.
            atPrompt_ = false;
            newLine();
            lineChanged_ = false;
            return i;
        }
    }
    return bytes.size();
}

}  // namespace portcullis::gateway
