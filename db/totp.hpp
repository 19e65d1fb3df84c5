#pragma once
// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s steps) computed with liboath,
// compared in constant time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret_bytes.hpp"
#include "common/time_format.hpp"

namespace portcullis::db {

struct TotpParams {
    int digits = 6;
    Seconds step{30};
    int window = 1;  // accept steps now-window .. now+window
};

inline constexpr std::size_t kTotpSecretSize = 20;  // 160 bits, as RFC 4226 recommends

std::int64_t totpStep(TimePoint t, const TotpParams& params = {});
// The code for one time step (zero-padded to params.digits).
std::string totpCode(const SecretBytes& secret, std::int64_t step, const TotpParams& params = {});
// Checks `code` against every step in the window without stopping at the
// first match (constant time in the code); returns the matching step.
std::optional<std::int64_t> matchTotp(const SecretBytes& secret, std::string_view code,
                                      TimePoint now, const TotpParams& params = {});

SecretBytes generateTotpSecret();
// otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
std::string otpauthUri(std::string_view issuer, std::string_view account, const SecretBytes& secret,
                       const TotpParams& params = {});

}  // namespace portcullis::db
