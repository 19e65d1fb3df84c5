#include "gateway/auth_messages.hpp"

namespace portcullis::gateway {

std::string clockTimeUtc(TimePoint at, TimePoint now) {
    const auto iso = formatIso8601(at);  // 2026-11-25T18:20:06Z
    const auto today = formatIso8601(now).substr(0, 10);
    const std::string clock = iso.substr(11, 5) + " UTC";
    return iso.substr(0, 10) == today ? clock : iso.substr(0, 10) + " " + clock;
}

std::string codeRefusal(const db::OtpVerdict& verdict, const std::string& account,
                        std::optional<TimePoint> lockedUntil) {
    switch (verdict.result) {
        case db::OtpResult::replayed:
            return "portcullis: that code was already used; wait for the next one";
        case db::OtpResult::locked:
            return "portcullis: account " + account + " is locked" +
                   (lockedUntil ? " until " + clockTimeUtc(*lockedUntil, systemNow()) : "") +
                   "; ask an administrator (portcullis user unlock " + account + ")";
        case db::OtpResult::throttled:
            return "portcullis: too many failed codes from your address; wait a few minutes";
        case db::OtpResult::disabled:
            return "portcullis: account " + account + " is disabled; ask an administrator";
        case db::OtpResult::notEnrolled:
            return "portcullis: account " + account +
                   " has no authenticator enrolled; ask an administrator (portcullis user totp "
                   "enroll " +
                   account + ")";
        case db::OtpResult::acceptedTotp:
        case db::OtpResult::acceptedRecovery:
            return {};
        case db::OtpResult::badCode:
        case db::OtpResult::unknownAccount:
            break;
    }
    return "portcullis: wrong code";
}

}  // namespace portcullis::gateway
