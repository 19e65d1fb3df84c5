#pragma once
// A QR code drawn in the terminal with Unicode half blocks (two modules per
// character row), for scanning an otpauth:// URI with an authenticator app.
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis::cli {

// The terminal's background, which the drawing cannot know: blocks are drawn
// in the terminal's foreground colour, spaces show its background.
enum class QrBackground {
    dark,   // light text on dark: light modules are blocks (as `qrencode -t UTF8`)
    light,  // dark text on light: dark modules are blocks
};

// Rows of kQuietZone light modules around the code: scanners need a margin,
// and 2 (not ISO's 4) keeps the usual otpauth URI within 24 rows of 80 columns.
inline constexpr int kQrQuietZone = 2;

// Encodes `text` (error correction level L: a screen is not a worn label, and
// L keeps the usual otpauth URI at version 6, 41 modules: 45 columns and 23
// rows with the quiet zone) and draws it so that it reads right, dark modules
// dark, on a terminal with that background; scanners do not all read a code
// drawn inverted. The drawing encodes `text`: wipe it after use when `text`
// is secret.
Result<std::string> renderTerminalQr(std::string_view text, QrBackground background);

}  // namespace portcullis::cli
