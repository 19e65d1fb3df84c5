#pragma once
// Yes/no questions asked on the controlling terminal (/dev/tty), as ssh does
// for unknown host keys: piped stdin never answers them.
#include <optional>
#include <string>

namespace portcullis::cli {

// true for "y"/"yes", false for anything else; nullopt when the process has
// no controlling terminal to ask on.
std::optional<bool> askYesNo(const std::string& question);

}  // namespace portcullis::cli
