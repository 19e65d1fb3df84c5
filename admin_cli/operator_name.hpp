#pragma once
#include <string>

namespace portcullis::cli {

// The person running the command, recorded as the actor of every change:
// $SUDO_USER when set (the admin behind sudo), else the Unix user name.
std::string operatorName();

}  // namespace portcullis::cli
