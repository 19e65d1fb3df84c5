#pragma once
// A QR code drawn in the terminal with Unicode half blocks (two modules per
// character row), for scanning an otpauth:// URI with an authenticator app.
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis::cli {

// Encodes `text` (error correction level M) and draws it with a 4-module
// quiet zone. Light modules are drawn as blocks (the terminal's foreground)
// and dark modules as spaces, as `qrencode -t UTF8` does, so the code reads
// right on the usual light-on-dark terminal; scanners also accept it inverted.
// The drawing encodes `text`: wipe it after use when `text` is secret.
Result<std::string> renderTerminalQr(std::string_view text);

}  // namespace portcullis::cli
