#include "db/totp.hpp"

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <mutex>
#include <stdexcept>

#include "common/encoding.hpp"
#include "db/error.hpp"

namespace portcullis::db {
namespace {

void ensureOath() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (oath_init() != OATH_OK) throw Error("totp: liboath failed to initialize");
    });
}

void wipe(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

bool isDigits(std::string_view code) {
    for (char c : code) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// RFC 3986 unreserved characters stay; everything else is %XX.
std::string percentEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    return out;
}

void checkParams(const TotpParams& params) {
    if (params.digits < 6 || params.digits > 8) {
        throw std::invalid_argument("totp: digits must be 6, 7 or 8");
    }
    if (params.step.count() <= 0) throw std::invalid_argument("totp: step must be positive");
    if (params.window < 0 || params.window > 10) {
        throw std::invalid_argument("totp: window must be between 0 and 10 steps");
    }
}

}  // namespace

std::int64_t totpStep(TimePoint t, const TotpParams& params) {
    checkParams(params);
    const std::int64_t secs = t.time_since_epoch().count();
    const std::int64_t step = params.step.count();
    // Floor division, so that instants before the epoch do not share step 0.
    std::int64_t q = secs / step;
    if (secs % step != 0 && secs < 0) --q;
    return q;
}

std::string totpCode(const SecretBytes& secret, std::int64_t step, const TotpParams& params) {
    checkParams(params);
    ensureOath();
    if (step < 0) throw std::invalid_argument("totp: negative time step");
    std::array<char, 16> out{};
    // TOTP(K, T) = HOTP(K, T) (RFC 6238 §4.2), with T the time step counter.
    const int rc =
        oath_hotp_generate(reinterpret_cast<const char*>(secret.data()), secret.size(),
                           static_cast<std::uint64_t>(step), static_cast<unsigned>(params.digits),
                           false, OATH_HOTP_DYNAMIC_TRUNCATION, out.data());
    if (rc != OATH_OK) {
        throw Error(std::string("totp: liboath failed: ") + oath_strerror(rc));
    }
    std::string code(out.data(), static_cast<std::size_t>(params.digits));
    OPENSSL_cleanse(out.data(), out.size());
    return code;
}

std::optional<std::int64_t> matchTotp(const SecretBytes& secret, std::string_view code,
                                      TimePoint now, const TotpParams& params) {
    checkParams(params);
    // The shape of the code is not secret: reject anything but exactly
    // `digits` ASCII digits before touching the secret.
    if (code.size() != static_cast<std::size_t>(params.digits) || !isDigits(code)) {
        return std::nullopt;
    }
    const std::int64_t current = totpStep(now, params);
    std::optional<std::int64_t> matched;
    // Every step in the window is computed and compared, whatever matched
    // before. If several steps match (a collision), the newest wins, so that
    // replay protection advances as far as possible.
    for (std::int64_t step = current - params.window; step <= current + params.window; ++step) {
        if (step < 0) continue;
        std::string expected = totpCode(secret, step, params);
        const bool equal = constantTimeEquals(expected, code);
        wipe(expected);
        if (equal) matched = step;
    }
    return matched;
}

SecretBytes generateTotpSecret() {
    SecretBytes secret(kTotpSecretSize);
    if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
        throw Error("totp: the system's random source failed");
    }
    return secret;
}

std::string otpauthUri(std::string_view issuer, std::string_view account, const SecretBytes& secret,
                       const TotpParams& params) {
    checkParams(params);
    std::string encoded = base32Encode(secret.view());
    std::string uri;
    uri.reserve(256 + 3 * (issuer.size() * 2 + account.size()) + encoded.size());
    uri += "otpauth://totp/";
    if (!issuer.empty()) uri += percentEncode(issuer) + ":";
    uri += percentEncode(account);
    uri += "?secret=";
    uri += encoded;
    if (!issuer.empty()) uri += "&issuer=" + percentEncode(issuer);
    uri += "&algorithm=SHA1&digits=" + std::to_string(params.digits) +
           "&period=" + std::to_string(params.step.count());
    wipe(encoded);
    return uri;
}

}  // namespace portcullis::db
