#pragma once
// Text encodings of binary data: base64 (SSH keys, fingerprints), base32 (TOTP
// secrets in otpauth URIs), hex (hashes).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

std::string base64Encode(std::string_view bytes, bool pad = true);
// Strict: rejects characters outside the alphabet and bad padding.
std::optional<std::vector<std::uint8_t>> base64Decode(std::string_view text);
// RFC 4648 base32, upper case, without padding (as authenticator apps expect).
std::string base32Encode(std::string_view bytes);
std::string hexEncode(std::string_view bytes);

// SHA-256 of bytes, raw (32 bytes).
std::string sha256(std::string_view bytes);
// SHA-256 as lower-case hex.
std::string sha256Hex(std::string_view bytes);

}  // namespace portcullis
