#include "db/totp.hpp"

#include <gtest/gtest.h>
#include <liboath/oath.h>

#include <array>
#include <cstdio>
#include <memory>
#include <set>
#include <string>

namespace portcullis::db {
namespace {

SecretBytes rfcSeed() {
    return SecretBytes(std::string_view("12345678901234567890"));
}
TimePoint at(std::int64_t unix) {
    return TimePoint{Seconds{unix}};
}

// RFC 6238 Appendix B, SHA1 column (8 digits, 30 s steps, T0 = 0).
TEST(TotpTest, Rfc6238AppendixBSha1Vectors) {
    const TotpParams params{.digits = 8};
    const std::array<std::pair<std::int64_t, const char*>, 6> vectors = {{
        {59, "94287082"},
        {1111111109, "07081804"},
        {1111111111, "14050471"},
        {1234567890, "89005924"},
        {2000000000, "69279037"},
        {20000000000, "65353130"},
    }};
    const auto seed = rfcSeed();
    for (const auto& [time, expected] : vectors) {
        EXPECT_EQ(totpCode(seed, totpStep(at(time), params), params), expected) << "T=" << time;
        const auto matched = matchTotp(seed, expected, at(time), params);
        ASSERT_TRUE(matched) << "T=" << time;
        EXPECT_EQ(*matched, time / 30);
    }
}

// RFC 4226 Appendix D: HOTP values for counters 0-9 (TOTP is HOTP of the step).
TEST(TotpTest, Rfc4226AppendixDHotpValues) {
    const std::array<const char*, 10> expected = {"755224", "287082", "359152", "969429", "338314",
                                                  "254676", "287922", "162583", "399871", "520489"};
    const auto seed = rfcSeed();
    for (std::size_t counter = 0; counter < expected.size(); ++counter) {
        EXPECT_EQ(totpCode(seed, static_cast<std::int64_t>(counter)), expected[counter])
            << "counter " << counter;
    }
}

TEST(TotpTest, AgreesWithLiboathTotpGenerate) {
    const auto secret = generateTotpSecret();
    for (std::int64_t t : {0LL, 29LL, 30LL, 1700000000LL, 1800000015LL, 4102444800LL}) {
        std::array<char, 16> out{};
        ASSERT_EQ(oath_totp_generate2(reinterpret_cast<const char*>(secret.data()), secret.size(),
                                      static_cast<time_t>(t), 30, 0, 6, 0, out.data()),
                  OATH_OK);
        EXPECT_EQ(totpCode(secret, totpStep(at(t))), std::string(out.data())) << t;
    }
}

TEST(TotpTest, StepIsFloorOfTimeOverPeriod) {
    EXPECT_EQ(totpStep(at(0)), 0);
    EXPECT_EQ(totpStep(at(29)), 0);
    EXPECT_EQ(totpStep(at(30)), 1);
    EXPECT_EQ(totpStep(at(59)), 1);
    EXPECT_EQ(totpStep(at(-1)), -1);
    EXPECT_EQ(totpStep(at(119), TotpParams{.step = Seconds{60}}), 1);
}

TEST(TotpTest, WindowAcceptsOneStepEitherSideAndRejectsTwo) {
    const auto seed = rfcSeed();
    const TimePoint now = at(1800000000 + 12);  // step 60000000
    const std::int64_t step = totpStep(now);
    for (int delta : {-1, 0, 1}) {
        const auto code = totpCode(seed, step + delta);
        const auto matched = matchTotp(seed, code, now);
        ASSERT_TRUE(matched) << "delta " << delta;
        EXPECT_EQ(*matched, step + delta);
    }
    for (int delta : {-3, -2, 2, 3}) {
        const auto code = totpCode(seed, step + delta);
        // A code of a far step could collide with a near one by chance; these do not.
        bool collides = false;
        for (int near = -1; near <= 1; ++near) collides |= totpCode(seed, step + near) == code;
        if (collides) continue;
        EXPECT_FALSE(matchTotp(seed, code, now)) << "delta " << delta;
    }
}

TEST(TotpTest, WindowIsConfigurable) {
    const auto seed = rfcSeed();
    const TimePoint now = at(1800000000);
    const std::int64_t step = totpStep(now);
    const TotpParams exact{.window = 0};
    EXPECT_TRUE(matchTotp(seed, totpCode(seed, step), now, exact));
    EXPECT_FALSE(matchTotp(seed, totpCode(seed, step - 1), now, exact));
    EXPECT_FALSE(matchTotp(seed, totpCode(seed, step + 1), now, exact));
    const TotpParams wide{.window = 2};
    EXPECT_TRUE(matchTotp(seed, totpCode(seed, step - 2), now, wide));
    EXPECT_TRUE(matchTotp(seed, totpCode(seed, step + 2), now, wide));
}

TEST(TotpTest, RejectsCodesThatAreNotExactlySixDigits) {
    const auto seed = rfcSeed();
    const TimePoint now = at(1800000000);
    const std::string good = totpCode(seed, totpStep(now));
    ASSERT_TRUE(matchTotp(seed, good, now));
    const std::string bad[] = {
        "",
        good.substr(0, 5),
        good + "0",
        "0" + good,
        " " + good.substr(1),
        good.substr(0, 5) + " ",
        good.substr(0, 5) + "a",
        "+" + good.substr(1),
        "-" + good.substr(1),
        good.substr(0, 5) + std::string(1, '\0'),
        std::string(good.data(), 5) + "\xd9",  // a byte outside ASCII
        "\xd9\xa1\xd9\xa2\xd9\xa3",            // Arabic-Indic digits (6 bytes, 3 chars)
        "abcdef",
        "      ",
    };
    for (const auto& code : bad) {
        EXPECT_FALSE(matchTotp(seed, code, now)) << "code '" << code << "'";
    }
}

TEST(TotpTest, EightDigitCodesNeedEightDigits) {
    const auto seed = rfcSeed();
    const TotpParams eight{.digits = 8};
    const TimePoint now = at(1111111109);
    EXPECT_TRUE(matchTotp(seed, "07081804", now, eight));
    EXPECT_FALSE(matchTotp(seed, "081804", now, eight));
    // The 6-digit code is the low 6 digits of the 8-digit one.
    EXPECT_TRUE(matchTotp(seed, "081804", now));
}

TEST(TotpTest, WrongSecretDoesNotMatch) {
    const auto seed = rfcSeed();
    const auto other = generateTotpSecret();
    const TimePoint now = at(1800000000);
    const auto code = totpCode(seed, totpStep(now));
    bool anyCollision = false;
    for (int d = -1; d <= 1; ++d) anyCollision |= totpCode(other, totpStep(now) + d) == code;
    if (!anyCollision) {
        EXPECT_FALSE(matchTotp(other, code, now));
    }
}

TEST(TotpTest, GeneratedSecretsAre160RandomBits) {
    std::set<std::string> seen;
    for (int i = 0; i < 16; ++i) {
        const auto secret = generateTotpSecret();
        EXPECT_EQ(secret.size(), kTotpSecretSize);
        EXPECT_EQ(secret.size(), 20u);
        seen.insert(std::string(secret.view()));
    }
    EXPECT_EQ(seen.size(), 16u);
}

TEST(TotpTest, OtpauthUri) {
    const auto seed = rfcSeed();
    EXPECT_EQ(otpauthUri("Portcullis", "alice", seed),
              "otpauth://totp/Portcullis:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
              "&issuer=Portcullis&algorithm=SHA1&digits=6&period=30");
    EXPECT_EQ(otpauthUri("ACME Corp: Vault & Co", "a.b_c-d", seed, TotpParams{.digits = 8}),
              "otpauth://totp/ACME%20Corp%3A%20Vault%20%26%20Co:a.b_c-d"
              "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
              "&issuer=ACME%20Corp%3A%20Vault%20%26%20Co&algorithm=SHA1&digits=8&period=30");
    EXPECT_EQ(otpauthUri("Café/é?", "x", seed).substr(0, 40),
              "otpauth://totp/Caf%C3%A9%2F%C3%A9%3F:x?s");
}

// What an authenticator does with the URI: take the base32 secret out of it
// and compute codes (oathtool, when installed, plays the authenticator).
TEST(TotpTest, OathtoolAcceptsTheSecretFromTheUri) {
    if (std::system("command -v oathtool >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "oathtool not installed";
    }
    const auto secret = generateTotpSecret();
    const std::string uri = otpauthUri("Portcullis", "alice", secret);
    const auto begin = uri.find("secret=") + 7;
    const std::string base32 = uri.substr(begin, uri.find('&', begin) - begin);
    ASSERT_EQ(base32.size(), 32u);
    const std::string command = "oathtool --totp -b " + base32 + " --now='2026-11-25 18:20:06 UTC'";
    struct PipeClose {
        void operator()(FILE* f) const { ::pclose(f); }
    };
    std::unique_ptr<FILE, PipeClose> pipe(::popen(command.c_str(), "r"));
    ASSERT_TRUE(pipe);
    std::array<char, 32> out{};
    ASSERT_NE(std::fgets(out.data(), out.size(), pipe.get()), nullptr);
    const std::string code(out.data(), 6);
    const TimePoint now{Seconds{1795630806}};  // 2026-11-25T18:20:06Z
    const auto matched = matchTotp(secret, code, now);
    ASSERT_TRUE(matched) << code;
    EXPECT_EQ(*matched, totpStep(now));
}

}  // namespace
}  // namespace portcullis::db
