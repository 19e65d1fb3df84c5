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

}  // namespace

Result<std::string> renderTerminalQr(std::string_view text, QrBackground background) {
    const std::string input(text);
    QrCodePtr code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1));
    if (!code) return makeError("cannot draw a QR code for this text (too long?)");

    const int width = code->width;
    const int size = width + 2 * kQrQuietZone;
    // Dark module at (x, y) of the bordered image; the border is light, and
    // so is the padding half row under an odd number of rows.
    auto dark = [&](int x, int y) {
        x -= kQrQuietZone;
        y -= kQrQuietZone;
        if (x < 0 || y < 0 || x >= width || y >= width) return false;
        return (code->data[y * width + x] & 1) != 0;
    };
    // A half is drawn (in the foreground colour) when it is light on a dark
    // background, dark on a light one.
    const bool drawDark = background == QrBackground::light;
    auto drawn = [&](int x, int y) { return dark(x, y) == drawDark; };

    std::string out;
    for (int y = 0; y < size; y += 2) {
        std::string row;
        for (int x = 0; x < size; ++x) {
            const bool top = drawn(x, y);
            const bool bottom = y + 1 < size ? drawn(x, y + 1) : !drawDark;
            if (top && bottom) {
                row += "\u2588";  // █
            } else if (top) {
                row += "\u2580";  // ▀
            } else if (bottom) {
                row += "\u2584";  // ▄
            } else {
                row += ' ';
            }
        }
        out += row;
        out += '\n';
        OPENSSL_cleanse(row.data(), row.size());
    }
    return out;
}

}  // namespace portcullis::cli
