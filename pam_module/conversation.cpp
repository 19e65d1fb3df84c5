#include "pam_module/conversation.hpp"

#include <openssl/crypto.h>
#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace portcullis::pam {
namespace {

// Owns the response array a conversation function returns for one message:
// wipes the answer before freeing it (the application allocated both with malloc).
struct ResponseFree {
    void operator()(pam_response* responses) const {
        if (responses == nullptr) return;
        if (char* text = responses[0].resp; text != nullptr) {
            OPENSSL_cleanse(text, std::strlen(text));
            std::free(text);
        }
        std::free(responses);
    }
};
using ResponsePtr = std::unique_ptr<pam_response, ResponseFree>;

}  // namespace

Result<Answer> Conversation::ask(std::string_view prompt, Echo echo) {
    const void* item = nullptr;
    if (pam_get_item(pamh_, PAM_CONV, &item) != PAM_SUCCESS || item == nullptr) {
        return makeError("the application has no PAM conversation");
    }
    const auto* conv = static_cast<const pam_conv*>(item);
    if (conv->conv == nullptr) return makeError("the application has no PAM conversation");

    const std::string promptText(prompt);
    pam_message message{};
    message.msg_style = echo == Echo::on ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF;
    message.msg = promptText.c_str();
    const pam_message* messages[1] = {&message};
    pam_response* raw = nullptr;
    const int rc = conv->conv(1, messages, &raw, conv->appdata_ptr);
    ResponsePtr responses(raw);
    if (rc != PAM_SUCCESS) {
        return makeError(std::string("conversation failed: ") + pam_strerror(pamh_, rc));
    }
    if (!responses || responses.get()[0].resp == nullptr) {
        return makeError("conversation gave no answer");
    }
    const char* text = responses.get()[0].resp;
    const std::size_t length = ::strnlen(text, kMaxAnswer + 1);
    Answer answer;
    if (length > kMaxAnswer) {
        answer.overlong = true;
    } else {
        answer.text = SecretBytes(reinterpret_cast<const std::uint8_t*>(text), length);
    }
    return answer;
}

std::string_view trimmed(const SecretBytes& text) {
    std::string_view view = text.view();
    const auto blank = [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
    };
    while (!view.empty() && blank(view.front())) view.remove_prefix(1);
    while (!view.empty() && blank(view.back())) view.remove_suffix(1);
    return view;
}

}  // namespace portcullis::pam
