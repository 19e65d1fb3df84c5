#include "admin_cli/terminal_qr.hpp"

#include <openssl/crypto.h>
#include <qrencode.h>

#include <memory>

namespace portcullis::cli {
namespace {

// The module data encodes the (secret) text: wipe it before freeing.
struct QrCodeFree {
    void operator()(QRcode* code) const {
        if (code->data)
            OPENSSL_cleanse(code->data, static_cast<std::size_t>(code->width) * code->width);
        QRcode_free(code);
    }
};
using QrCodePtr = std::unique_ptr<QRcode, QrCodeFree>;

constexpr int kQuietZone = 4;  // modules of light border on every side (ISO 18004)

}  // namespace

Result<std::string> renderTerminalQr(std::string_view text) {
    const std::string input(text);
    QrCodePtr code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!code) return makeError("cannot draw a QR code for this text (too long?)");

    const int width = code->width;
    const int size = width + 2 * kQuietZone;
    // Dark module at (x, y) of the bordered image; the border is light.
    auto dark = [&](int x, int y) {
        x -= kQuietZone;
        y -= kQuietZone;
        if (x < 0 || y < 0 || x >= width || y >= width) return false;
        return (code->data[y * width + x] & 1) != 0;
    };

    std::string out;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; ++x) {
            const bool topLight = !dark(x, y);
            const bool bottomLight = y + 1 < size ? !dark(x, y + 1) : false;
            if (topLight && bottomLight) {
                out += "\u2588";  // █
            } else if (topLight) {
                out += "\u2580";  // ▀
            } else if (bottomLight) {
                out += "\u2584";  // ▄
            } else {
                out += ' ';
            }
        }
        out += '\n';
    }
    return out;
}

}  // namespace portcullis::cli
