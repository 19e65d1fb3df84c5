#pragma once
#include <string_view>

namespace portcullis {

// Shell-style match of a whole name: '*' any run, '?' one character,
// "[abc]" / "[a-z]" / "[!a-z]" a set. No special meaning for '/'.
// Linear-time in practice (no exponential backtracking).
bool globMatch(std::string_view pattern, std::string_view name);
bool isGlob(std::string_view pattern);

}  // namespace portcullis
