#pragma once
// Fetching a target's SSH host key by connecting to it (key exchange only, no
// authentication), for `target add --scan`.
#include <chrono>
#include <string>

#include "common/result.hpp"
#include "common/ssh_public_key.hpp"

namespace portcullis::cli {

inline constexpr std::chrono::seconds kScanTimeout{10};

// Prefers ed25519, then ECDSA P-256, then RSA, as the gateway does when it
// connects upstream. Ignores ~/.ssh/config and known_hosts.
Result<SshPublicKey> scanHostKey(const std::string& host, int port,
                                 std::chrono::seconds timeout = kScanTimeout);

}  // namespace portcullis::cli
