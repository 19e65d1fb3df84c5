#pragma once
// The words of a gateway command line (SPEC §11), split as a POSIX shell
// splits them, and never run by one: blanks separate words; 'single quotes'
// keep everything literally; "double quotes" keep everything but \" \\ \$ \`
// and backslash-newline; outside quotes a backslash takes the next character
// literally. Nothing is expanded ($, `, *, ~ are plain characters), and
// ; | & < > ( ) are plain characters too: `targets; id` is the one word
// "targets;" (an unknown command), never two commands.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace portcullis {

// An unterminated quote or a trailing backslash is an error.
Result<std::vector<std::string>> splitShellWords(std::string_view line);

}  // namespace portcullis
