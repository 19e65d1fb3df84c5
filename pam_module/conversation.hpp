#pragma once
// One prompt through the application's PAM conversation. Answers come back in
// a SecretBytes (wiped when dropped); the application's response buffers are
// wiped and freed here, whatever the application returned.
#include <security/pam_modules.h>

#include <cstddef>
#include <string_view>

#include "common/result.hpp"
#include "common/secret_bytes.hpp"

namespace portcullis::pam {

// Longest answer kept. Longer answers are refused whole (never truncated into
// something that might match) and reported as overlong.
inline constexpr std::size_t kMaxAnswer = 256;

enum class Echo { on, off };

struct Answer {
    SecretBytes text;  // empty when overlong
    bool overlong = false;
};

class Conversation {
  public:
    explicit Conversation(pam_handle_t* pamh) : pamh_(pamh) {}

    // Fails when there is no conversation, it reports an error, or it gives no answer.
    Result<Answer> ask(std::string_view prompt, Echo echo);

  private:
    pam_handle_t* pamh_;
};

// The answer without surrounding ASCII blanks (a view into `text`).
std::string_view trimmed(const SecretBytes& text);

}  // namespace portcullis::pam
