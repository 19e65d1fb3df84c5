#pragma once
// Input typed at a password-like prompt (issue 12 finding 8, SPEC §6): which
// bytes a terminal channel's user typed while the target waited at a prompt
// such as "Password:", "[sudo] password for root:" or "Vault passphrase:",
// so that the recorder seals them instead of writing them in clear.
//
// SecretPromptPattern is the operator's POSIX extended regular expression
// (`[recording] secret_prompts`), matched case-insensitively against the end
// of the last line the target printed (escape sequences removed, at most
// kPromptTail bytes; a CR or LF starts a new line and ends any escape sequence). HiddenInputTracker
// follows one channel: output feeds the last line; an input chunk that arrives while that line
// matches starts hidden input, which lasts up to (not including) the next CR, LF, Ctrl-C or Ctrl-D,
// whatever output comes in between (a target echoing '*').
#include <regex.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis::gateway {

// Covers "Password:", "[sudo] password for alice:", "Enter passphrase for key
// '...':", "Vault passphrase:", "Enter PIN for 'PIV':", "root@h's password:".
inline constexpr const char* kDefaultSecretPrompts =
    "(^|[^[:alnum:]])(password|passphrase|passcode|pin)([^[:alnum:]][^:]*)?:[[:space:]]*";
inline constexpr std::size_t kMaxSecretPromptsLength = 1024;
inline constexpr std::size_t kPromptTail = 512;

class SecretPromptPattern {
  public:
    // Compiles `pattern` (anchored at the end of the line); a usage error
    // (POSIX's message) when it is not a valid extended regular expression.
    static Result<std::shared_ptr<const SecretPromptPattern>> compile(const std::string& pattern);
    // Only compile() makes one (the tag is private).
    struct Private {};
    explicit SecretPromptPattern(Private) {}
    ~SecretPromptPattern() {
        if (compiled_) ::regfree(&regex_);
    }
    SecretPromptPattern(const SecretPromptPattern&) = delete;
    SecretPromptPattern& operator=(const SecretPromptPattern&) = delete;

    // Does the line end in a prompt? (regexec is safe from several threads.)
    bool matches(const std::string& line) const;
    const std::string& text() const { return text_; }

  private:
    regex_t regex_{};
    bool compiled_ = false;
    std::string text_;
};

class HiddenInputTracker {
  public:
    explicit HiddenInputTracker(std::shared_ptr<const SecretPromptPattern> pattern)
        : pattern_(std::move(pattern)) {}

    // What the target printed (in order, any chunking).
    void output(std::string_view bytes);
    // How many leading bytes of this input chunk are hidden input (0: none).
    std::size_t input(std::string_view bytes);
    bool hidden() const { return hidden_; }
    // The last line as the tracker sees it (tests).
    const std::string& line() const { return line_; }

  private:
    enum class Escape { none, esc, csi, string, stringEsc, intermediate };
    void newLine();

    std::shared_ptr<const SecretPromptPattern> pattern_;
    std::string line_;
    Escape escape_ = Escape::none;
    bool lineChanged_ = false;  // output since the last look at the line
    bool atPrompt_ = false;     // the line, as of the last look, ends in a prompt
    bool hidden_ = false;
};

}  // namespace portcullis::gateway
