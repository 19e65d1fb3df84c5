#include "common/glob.hpp"

#include <cstddef>

namespace portcullis {

namespace {

// Matches c against the set starting at pattern[pos] == '['. On success sets
// next to the index after the closing ']'. Returns false in `valid` when the
// set is not closed (then '[' is an ordinary character).
bool matchSet(std::string_view pattern, std::size_t pos, char c, std::size_t& next, bool& valid) {
    std::size_t i = pos + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool matched = false;
    bool first = true;
    while (i < pattern.size()) {
        const char lo = pattern[i];
        if (lo == ']' && !first) {
            valid = true;
            next = i + 1;
            return matched != negate;
        }
        first = false;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            const auto a = static_cast<unsigned char>(lo);
            const auto b = static_cast<unsigned char>(pattern[i + 2]);
            const auto x = static_cast<unsigned char>(c);
            if (a <= x && x <= b) matched = true;
            i += 3;
        } else {
            if (lo == c) matched = true;
            ++i;
        }
    }
    valid = false;
    return false;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view name) {
    // Iterative matcher: on a mismatch go back to the last '*' and let it
    // swallow one more character. Only the last star matters, so the work is
    // bounded by pattern.size() * name.size() and is linear in the usual case.
    std::size_t p = 0, n = 0;
    std::size_t starP = std::string_view::npos, starN = 0;
    while (n < name.size()) {
        if (p < pattern.size()) {
            const char pc = pattern[p];
            if (pc == '*') {
                while (p < pattern.size() && pattern[p] == '*') ++p;  // "**" == "*"
                starP = p;
                starN = n;
                continue;
            }
            if (pc == '?') {
                ++p;
                ++n;
                continue;
            }
            if (pc == '[') {
                std::size_t next = 0;
                bool valid = false;
                const bool ok = matchSet(pattern, p, name[n], next, valid);
                if (valid) {
                    if (ok) {
                        p = next;
                        ++n;
                        continue;
                    }
                } else if (name[n] == '[') {  // unclosed: literal '['
                    ++p;
                    ++n;
                    continue;
                }
            } else if (pc == name[n]) {
                ++p;
                ++n;
                continue;
            }
        }
        if (starP == std::string_view::npos) return false;
        p = starP;
        n = ++starN;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

bool isGlob(std::string_view pattern) {
    return pattern.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace portcullis
