#pragma once
// The SSH user name a client presents to the gateway:
//   ACCOUNT | ACCOUNT:TARGET | ACCOUNT:LOGIN@TARGET
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis {

struct UserSpec {
    std::string account;
    std::string login;   // empty: the target's default login
    std::string target;  // empty: no target chosen (menu)
};

// Names: account, login and target are 1-64 chars of [A-Za-z0-9._-]
// (login may also hold '$' at the end, as Unix names may); anything else is refused.
// Also refused: a leading '-' (would read as a command-line option) and "." / "..".
// The target is split off at the LAST '@' (as OpenSSH splits user@host).
Result<UserSpec> parseUserSpec(std::string_view text);
bool isValidName(std::string_view name);

}  // namespace portcullis
