#include "common/user_spec.hpp"

namespace portcullis {

namespace {

bool isNameChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool isValidLogin(std::string_view login) {
    if (!login.empty() && login.back() == '$') {
        // "host$" style machine accounts: the '$' counts towards the 64.
        if (login.size() > 64) return false;
        login.remove_suffix(1);
    }
    return isValidName(login);
}

std::string shown(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 100)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (text.size() > 100) out += "...";
    return out;
}

}  // namespace

bool isValidName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    // Hardening beyond the character set: no leading '-' (would read as a
    // command-line option) and no "." / ".." (path components).
    if (name.front() == '-' || name == "." || name == "..") return false;
    for (const char c : name) {
        if (!isNameChar(c)) return false;
    }
    return true;
}

Result<UserSpec> parseUserSpec(std::string_view text) {
    const auto fail = [&](const std::string& why) {
        return makeError("bad user name \"" + shown(text) + "\": " + why +
                         "; use ACCOUNT, ACCOUNT:TARGET or ACCOUNT:LOGIN@TARGET");
    };
    const std::string nameRule = " (1-64 characters of A-Z a-z 0-9 . _ -)";
    UserSpec spec;
    const std::size_t colon = text.find(':');
    const std::string_view account = text.substr(0, colon);
    if (account.empty()) return fail("empty account");
    if (!isValidName(account)) return fail("invalid account name" + nameRule);
    spec.account = std::string(account);
    if (colon == std::string_view::npos) return spec;

    const std::string_view rest = text.substr(colon + 1);
    if (rest.find(':') != std::string_view::npos) return fail("more than one ':'");
    const std::size_t at = rest.rfind('@');
    const std::string_view target = at == std::string_view::npos ? rest : rest.substr(at + 1);
    if (at != std::string_view::npos) {
        const std::string_view login = rest.substr(0, at);
        if (login.empty()) return fail("empty login before '@'");
        if (!isValidLogin(login)) return fail("invalid login name" + nameRule);
        spec.login = std::string(login);
    }
    if (target.empty()) return fail("empty target");
    if (!isValidName(target)) return fail("invalid target name" + nameRule);
    spec.target = std::string(target);
    return spec;
}

}  // namespace portcullis
