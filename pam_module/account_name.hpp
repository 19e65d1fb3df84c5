#pragma once
// Checks on what a person typed at the module's prompts (SPEC §9), kept pure
// so that they can be unit-tested and fuzzed apart from a PAM stack.
#include <algorithm>
#include <cstddef>
#include <string_view>

namespace portcullis::pam {

inline constexpr std::size_t kMaxAccountName = 64;

// An account name as typed: printable ASCII without blanks, bounded.
inline bool plausibleAccountName(std::string_view name) {
    if (name.empty() || name.size() > kMaxAccountName) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte < 0x7f;
    });
}

// A person who types the code at the account prompt must not see it logged.
inline bool looksLikeCode(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '-' || c == ' ';
    });
}

}  // namespace portcullis::pam
