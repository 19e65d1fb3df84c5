#pragma once
// Reading the one OpenSSH public key an operator hands to `user key add`.
#include <string>

#include "common/ssh_public_key.hpp"

namespace portcullis::cli {

// Reads `source` ("-" for stdin, else a file path) and returns its one key:
// blank and '#' comment lines are skipped; no key, several keys, a private
// key or a malformed line is a Failure that says what to give instead.
SshPublicKey readOnePublicKey(const std::string& source);

}  // namespace portcullis::cli
