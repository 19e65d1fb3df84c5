#include "common/encoding.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portcullis {
namespace {

std::string asString(const std::vector<std::uint8_t>& v) {
    return {v.begin(), v.end()};
}

TEST(Base64, Rfc4648Vectors) {
    EXPECT_EQ(base64Encode(""), "");
    EXPECT_EQ(base64Encode("f"), "Zg==");
    EXPECT_EQ(base64Encode("fo"), "Zm8=");
    EXPECT_EQ(base64Encode("foo"), "Zm9v");
    EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, Unpadded) {
    EXPECT_EQ(base64Encode("f", false), "Zg");
    EXPECT_EQ(base64Encode("fo", false), "Zm8");
    EXPECT_EQ(base64Encode("foo", false), "Zm9v");
}

TEST(Base64, UsesPlusAndSlash) {
    EXPECT_EQ(base64Encode(std::string("\xfb\xff\xbf", 3)), "+/+/");
    auto d = base64Decode("+/+/");
    ASSERT_TRUE(d);
    EXPECT_EQ(asString(*d), std::string("\xfb\xff\xbf", 3));
}

TEST(Base64, DecodeVectors) {
    for (const auto& [text, plain] :
         std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                          {"Zg==", "f"},
                                                          {"Zm8=", "fo"},
                                                          {"Zm9v", "foo"},
                                                          {"Zm9vYg==", "foob"},
                                                          {"Zm9vYmE=", "fooba"},
                                                          {"Zm9vYmFy", "foobar"}}) {
        auto d = base64Decode(text);
        ASSERT_TRUE(d) << text;
        EXPECT_EQ(asString(*d), plain) << text;
    }
}

TEST(Base64, RoundTripsAllByteValues) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); len += 37) {
        const std::string part = all.substr(0, len);
        auto d = base64Decode(base64Encode(part));
        ASSERT_TRUE(d) << len;
        EXPECT_EQ(asString(*d), part);
    }
}

TEST(Base64, StrictDecodeRejects) {
    for (const char* bad :
         {"Zg", "Zg=", "Zm8", "Z", "Z===", "====", "Zg==Zg==", "=Zg=", "Zm9-", "Zm9_", "Zm9v\n",
          " Zm9v", "Zm9v ", "Zm 9v", "Zh==", "Zm9=", "Zg=a", "Zm9vYg=A", "Z\x80=="}) {
        EXPECT_FALSE(base64Decode(bad)) << bad;
    }
    EXPECT_FALSE(base64Decode(std::string("Zm9\0", 4)));
}

TEST(Base32, Rfc4648VectorsWithoutPadding) {
    EXPECT_EQ(base32Encode(""), "");
    EXPECT_EQ(base32Encode("f"), "MY");
    EXPECT_EQ(base32Encode("fo"), "MZXQ");
    EXPECT_EQ(base32Encode("foo"), "MZXW6");
    EXPECT_EQ(base32Encode("foob"), "MZXW6YQ");
    EXPECT_EQ(base32Encode("fooba"), "MZXW6YTB");
    EXPECT_EQ(base32Encode("foobar"), "MZXW6YTBOI");
}

TEST(Base32, TotpSecretLength) {
    // A 20-byte TOTP secret is 32 base32 characters, no padding.
    const std::string secret(20, '\xff');
    const std::string text = base32Encode(secret);
    EXPECT_EQ(text.size(), 32u);
    EXPECT_EQ(text, std::string(32, '7'));
    EXPECT_EQ(base32Encode("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Hex, LowerCase) {
    EXPECT_EQ(hexEncode(""), "");
    EXPECT_EQ(hexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256("abc").size(), 32u);
    EXPECT_EQ(hexEncode(sha256("abc")), sha256Hex("abc"));
}

TEST(Sha256, LargeInput) {
    const std::string million(1000000, 'a');
    EXPECT_EQ(sha256Hex(million),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace portcullis
