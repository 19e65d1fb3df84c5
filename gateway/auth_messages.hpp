#pragma once
// What a user is told at the code prompt when a code is refused (issue 13).
// Said only after the key was proven: by then the account is known to the
// client anyway, so naming its state discloses nothing to a stranger, and a
// person who replayed a code within the same 30 s step learns to wait.
#include <optional>
#include <string>

#include "common/time_format.hpp"
#include "db/otp_guard.hpp"

namespace portcullis::gateway {

// One line, "portcullis: ..."; `lockedUntil` when the account is locked.
std::string codeRefusal(const db::OtpVerdict& verdict, const std::string& account,
                        std::optional<TimePoint> lockedUntil);

// "14:05 UTC" (with the date when it is not today's).
std::string clockTimeUtc(TimePoint at, TimePoint now);

}  // namespace portcullis::gateway
