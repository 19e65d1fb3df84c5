// Issue 13 ("the code prompt never says why a code was refused"): what the
// user reads before the next "Verification code:" prompt, once the key is proven.
#include "gateway/auth_messages.hpp"

#include <gtest/gtest.h>

namespace portcullis::gateway {
namespace {

TEST(AuthMessagesTest, EachRefusalSaysWhyAndWhatToDo) {
    using db::OtpResult;
    EXPECT_EQ(codeRefusal({OtpResult::badCode}, "alice", std::nullopt), "portcullis: wrong code");
    EXPECT_EQ(codeRefusal({OtpResult::replayed}, "alice", std::nullopt),
              "portcullis: that code was already used; wait for the next one");
    const auto until = *parseIso8601("2026-11-25T14:05:00Z");
    const auto locked = codeRefusal({OtpResult::locked}, "alice", until);
    EXPECT_NE(locked.find("locked until 2026-11-25 14:05 UTC"), std::string::npos) << locked;
    EXPECT_NE(locked.find("portcullis user unlock alice"), std::string::npos) << locked;
    EXPECT_NE(codeRefusal({OtpResult::notEnrolled}, "bob", std::nullopt)
                  .find("portcullis user totp enroll bob"),
              std::string::npos);
    EXPECT_NE(codeRefusal({OtpResult::disabled}, "bob", std::nullopt).find("disabled"),
              std::string::npos);
    EXPECT_NE(codeRefusal({OtpResult::throttled}, "bob", std::nullopt).find("your address"),
              std::string::npos);
    // An account removed after its key passed reads like a wrong code.
    EXPECT_EQ(codeRefusal({OtpResult::unknownAccount}, "bob", std::nullopt),
              "portcullis: wrong code");
}

TEST(AuthMessagesTest, ClockTimeOmitsTodaysDate) {
    const auto now = *parseIso8601("2026-11-25T13:50:00Z");
    EXPECT_EQ(clockTimeUtc(*parseIso8601("2026-11-25T14:05:59Z"), now), "14:05 UTC");
    EXPECT_EQ(clockTimeUtc(*parseIso8601("2026-11-26T00:05:00Z"), now), "2026-11-26 00:05 UTC");
}

}  // namespace
}  // namespace portcullis::gateway
