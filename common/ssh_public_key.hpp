#pragma once
// An OpenSSH public key: parsed from an authorized_keys style line
// ("TYPE BASE64 [COMMENT]", no options) and checked structurally (the blob's
// inner type matches, lengths are consistent, RSA >= 2048 bits, known curves).
// Accepted types: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa,
// sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com. DSA is refused.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace portcullis {

struct SshPublicKey {
    std::string type;                // "ssh-ed25519"
    std::vector<std::uint8_t> blob;  // the wire-format key blob
    std::string comment;
    int bits = 0;  // 256 for ed25519, modulus size for RSA, curve size for ECDSA

    static Result<SshPublicKey> parseLine(std::string_view line);
    static Result<SshPublicKey> fromBlob(std::string_view blob);

    // "SHA256:" + unpadded base64 of SHA-256(blob), as ssh-keygen -lf prints.
    std::string fingerprint() const;
    // "TYPE BASE64" (no comment): the form stored and pinned.
    std::string toLine() const;
};

}  // namespace portcullis
