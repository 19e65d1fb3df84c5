#include "common/ssh_public_key.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/encoding.hpp"

namespace portcullis {
namespace {

// Generated with ssh-keygen (OpenSSH 9.2) at authoring time; the comment above
// each is the output of `ssh-keygen -lf`. The sk-* keys were assembled from the
// ed25519/ecdsa keys plus application "ssh:" and checked with ssh-keygen -lf too.
// 256 SHA256:9cLZWOTylvuSLbNU3C7kZHoz1uWgQHAfRIToWDxjUuM test-ed25519@example (ED25519)
constexpr const char* kEd25519Line =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAILzeex0ExahEPJyBJWnt7a/lRXk112fgAJYd6uuHgh7X"
    " test-ed25519@example";
constexpr const char* kEd25519Fingerprint = "SHA256:9cLZWOTylvuSLbNU3C7kZHoz1uWgQHAfRIToWDxjUuM";

// 256 SHA256:d/g7eT9HCrK1aNpDAxrhlng8b+g+YmytluLzf2g+zPo test-ecdsa@example (ECDSA)
constexpr const char* kEcdsa256Line =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIri04vXMQzceAOpGhIz1XKlOcPi"
    "LirRc0UI1TKoOIG0W5F3uDzLFv/IwCmXBY4u/CaHRe33t7+VBm8iKssBlk8="
    " test-ecdsa@example";
constexpr const char* kEcdsa256Fingerprint = "SHA256:d/g7eT9HCrK1aNpDAxrhlng8b+g+YmytluLzf2g+zPo";

// 384 SHA256:X1TJhe1vK+NQUt48SdGsw2yzYnyBICpEH7iGvJx9BsA test-ecdsa384@example (ECDSA)
constexpr const char* kEcdsa384Line =
    "ecdsa-sha2-nistp384 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBBeAODTQnkmaqUYUkPPC/EHC/mMo"
    "0JqkBTgkCtW8HdMD0tsT8dcI0f6cnwaRoOomPBuymGVQgLxY+NIKViDmb/wDmKGZZcatuo9hvGKrezQR"
    "iFB3wx9Ub9YzJCuf5tRcaQ=="
    " test-ecdsa384@example";
constexpr const char* kEcdsa384Fingerprint = "SHA256:X1TJhe1vK+NQUt48SdGsw2yzYnyBICpEH7iGvJx9BsA";

// 521 SHA256:VxHSk0s8B8XRk6OTlBQ8WBA9zbLdGotnRIN2lDgNpFw test-ecdsa521@example (ECDSA)
constexpr const char* kEcdsa521Line =
    "ecdsa-sha2-nistp521 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAEmwTWolfrlkAzibvQ63pa33CbG"
    "dCFMoybfLq3ivM6Hqe0pt5CoZVRgLrQNDl8YwXXOlwQjJr8KreCq64lV40gruwC+z1QbAOzrE6Bd0AbF"
    "iUXiyzyyM1KuKUPkG63dxka9T1GVa/c61Dh9MNVb2z1Y0sDTCT45p0ipmbdfdkh4TUMFHw=="
    " test-ecdsa521@example";
constexpr const char* kEcdsa521Fingerprint = "SHA256:VxHSk0s8B8XRk6OTlBQ8WBA9zbLdGotnRIN2lDgNpFw";

// 2048 SHA256:xYhXd/7GcpX2L+00lYvweOwSRfxXDuCS8JgvhM5TO/8 test-rsa2048@example (RSA)
constexpr const char* kRsa2048Line =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQCvvtQAmkHSvPpUqn/LJZ7VCsCYVPC9MNakINFw0UZZ3m3WVinZ"
    "JyU7KmUUj00vB8rnVZN3Og1avm67V0j9gpfIgSNU3PgIEuFngaKGQLP+Wmh2z7KI6US4eUFSQ5JGM/zY"
    "MpGOIuMM8d2rxh4F/FX0PHsj1JpKvi64p0i6iNjBHz2N9awPMKbH8GxRTy/KAVNy2ClCf9ldhdI1IF55"
    "fnAW16djq3ywUSeq31RbdwyA4/66pE9nmmsQagNaGTLTSqoK24EkrIAEAYnWk1Ns93pIDx68XX2f2cac"
    "OGGXXdRfItJgkGhiFp1FTReo55yhVPWLz4Y3zpcBGmzXMvdoaxPr"
    " test-rsa2048@example";
constexpr const char* kRsa2048Fingerprint = "SHA256:xYhXd/7GcpX2L+00lYvweOwSRfxXDuCS8JgvhM5TO/8";

// 3072 SHA256:SrcZqcEpSmpnqoclt8C3jk2MreAOog+gfSR3sp0+FzY test-rsa3072@example (RSA)
constexpr const char* kRsa3072Line =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABgQDdut9l5O+1wVz0Y+cAgveBRIl/awm1DqEh2LFVRTALfNCOhoIq"
    "DuT6VEMgsizrCQzKUkvP9Am0bvyoKMsKF0D33CYoHX310VjvuvegGqFVmT1nhTkwQL1YXT54z75E7jG7"
    "owpEITBhH1Pf3GRDLxJ/CaIyckr5b9aI1ooRsQ6TBbTxyAaJXKv05RVSfhIMPNm7vO166r4QuG0vPQZz"
    "AuLdF44N+bNgZ8Bh6R//QP2k5BnL4p41Gd5lDPJKOOw7J8iJu76V+7tV19DzNDAJqSoFdhTl98v4NQ7n"
    "IsGf/bz67buMtn8S8LClkthcvKMESg1jZuY8SHs+uT03rxm8ifKwH8PXbOR39J6To4WG8o0ryvIoOW7L"
    "0Ygpa157KJDEufHvLfKN2AcgjGyYES2e1hzJX37NYVdnlBjD+dl07uZP1j1tcPqnJLW4xOzr/cGSIB+s"
    "uxWxqI76RS20hjIXgIeux83AYNHGFOpGNtAu9xO0+TvdiGvopL5SqBXXEesiLOk="
    " test-rsa3072@example";
constexpr const char* kRsa3072Fingerprint = "SHA256:SrcZqcEpSmpnqoclt8C3jk2MreAOog+gfSR3sp0+FzY";

// 1024 SHA256:NQheAe9EF6xS642E7BrNR5f42QSkg62BQApGcbLfa6A test-rsa1024@example (RSA)
constexpr const char* kRsa1024Line =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQCv+jWdcNwknmXRkSmQQsPLYrtE1ncV9dvAkyuHNWD2sE6HevJZ"
    "Cnma37FqkBropgcGuKBnGvUAY6c/zYncvaFE16BMbXut8Zeud6426IxxyFWjcbK9gRgT74QsSESwJscD"
    "FYmmhanvG+X9Jjn1A21E0E9bma3BEIqNb16oOG/kvQ=="
    " test-rsa1024@example";
constexpr const char* kRsa1024Fingerprint = "SHA256:NQheAe9EF6xS642E7BrNR5f42QSkg62BQApGcbLfa6A";

// 1024 SHA256:k9LOo8T0WolmBA9wa1zHTT+INPw1xl8HhxN+yR/2O9M root@vm (DSA)
constexpr const char* kDsaLine =
    "ssh-dss "
    "AAAAB3NzaC1kc3MAAACBALOJrNj/ZF2783URA3NYLDYJ8had5VeWD/Rx6PBqpw9EElOQFEgDz/whYPdn"
    "S+rECTcNpoVXcSxyguCx4kyXp/aId/D2soFZWYO9ly3W93FP6+GVZROZf67gNIiuZICu5a0RD7PGiQjb"
    "YAWe3/PyreB7cBnWYSIj7K5eC3NsUm+TAAAAFQDw1t0w2SQ0FG7FtG+iRF4BXN6PTwAAAIA/+gcdwWxY"
    "TCH5rC8j4O+py16o9jDwmo8qYZA1sN832aupxuZ0OKXGcw4P/3SQsP7cp1wosCxCax2OpJLGE7dRAy+R"
    "0oQ7QHTSEj1HJ8/cWsTLew6qjXS8Ow4XpdWFVWk18eXfkMUXMY6LXoegNocD/n5Lal55zHNvh5QIbkZG"
    "CgAAAIBO9HolqFIqBDmAAA2XQYwyDQhDQCib9c0A/fKStrAmaLOuR6XRoJZecT4FQ0K7WPbVfz1XdJYs"
    "VpN3J9BSMxgdAuyfLJ7Vf42u09uSZuLkJpPQXmnoOtBohGA8P5icQrxmbAXK+B/PUa9BxJevF5D6lUpN"
    "mJHeXWWwU/EiNEclug=="
    " root@vm";
constexpr const char* kDsaFingerprint = "SHA256:k9LOo8T0WolmBA9wa1zHTT+INPw1xl8HhxN+yR/2O9M";

// 256 SHA256:wrwl97dCx5FG1GMKFjCj/A0JJ5MxsgmjWJDVW+zKqvA sk-ed@example (ED25519-SK)
constexpr const char* kSkEdLine =
    "sk-ssh-ed25519@openssh.com "
    "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAILzeex0ExahEPJyBJWnt7a/lRXk112fgAJYd"
    "6uuHgh7XAAAABHNzaDo="
    " sk-ed@example";
constexpr const char* kSkEdFingerprint = "SHA256:wrwl97dCx5FG1GMKFjCj/A0JJ5MxsgmjWJDVW+zKqvA";

// 256 SHA256:IlkZZd2B1vSu+b/PtYdHxopV5YPyA+44asYFvetO+TI sk-ec@example (ECDSA-SK)
constexpr const char* kSkEcLine =
    "sk-ecdsa-sha2-nistp256@openssh.com "
    "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBIri04vX"
    "MQzceAOpGhIz1XKlOcPiLirRc0UI1TKoOIG0W5F3uDzLFv/IwCmXBY4u/CaHRe33t7+VBm8iKssBlk8A"
    "AAAEc3NoOg=="
    " sk-ec@example";
constexpr const char* kSkEcFingerprint = "SHA256:IlkZZd2B1vSu+b/PtYdHxopV5YPyA+44asYFvetO+TI";

// SSH wire-format helpers for crafting blobs.
std::string wireString(std::string_view s) {
    std::string out;
    const auto n = static_cast<std::uint32_t>(s.size());
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
    out += s;
    return out;
}

std::string blobOf(std::string_view line) {
    const std::string text(line);
    const auto start = text.find(' ') + 1;
    const auto end = text.find(' ', start);
    auto decoded = base64Decode(text.substr(start, end - start));
    EXPECT_TRUE(decoded);
    return decoded ? std::string(decoded->begin(), decoded->end()) : std::string();
}

std::string lineOf(std::string_view type, std::string_view blob) {
    return std::string(type) + " " + base64Encode(blob);
}

// An RSA blob whose modulus has exactly `bits` bits (odd, top bit set).
const std::string kE65537("\x01\x00\x01", 3);

std::string rsaBlob(int bits, std::string e = kE65537) {
    std::string n(static_cast<std::size_t>((bits + 7) / 8), '\xff');
    const int topBits = bits % 8 == 0 ? 8 : bits % 8;
    n[0] = static_cast<char>((1 << topBits) - 1);
    if (static_cast<unsigned char>(n[0]) & 0x80) n.insert(n.begin(), '\0');
    return wireString("ssh-rsa") + wireString(e) + wireString(n);
}

std::string ecPoint(std::size_t length) {
    std::string p(length, '\x11');
    p[0] = '\x04';
    return p;
}

struct Known {
    const char* line;
    const char* type;
    const char* fingerprint;
    int bits;
    const char* comment;
};

TEST(SshPublicKey, ParsesGeneratedKeysAndMatchesSshKeygenFingerprints) {
    const Known keys[] = {
        {kEd25519Line, "ssh-ed25519", kEd25519Fingerprint, 256, "test-ed25519@example"},
        {kEcdsa256Line, "ecdsa-sha2-nistp256", kEcdsa256Fingerprint, 256, "test-ecdsa@example"},
        {kEcdsa384Line, "ecdsa-sha2-nistp384", kEcdsa384Fingerprint, 384, "test-ecdsa384@example"},
        {kEcdsa521Line, "ecdsa-sha2-nistp521", kEcdsa521Fingerprint, 521, "test-ecdsa521@example"},
        {kRsa2048Line, "ssh-rsa", kRsa2048Fingerprint, 2048, "test-rsa2048@example"},
        {kRsa3072Line, "ssh-rsa", kRsa3072Fingerprint, 3072, "test-rsa3072@example"},
        {kSkEdLine, "sk-ssh-ed25519@openssh.com", kSkEdFingerprint, 256, "sk-ed@example"},
        {kSkEcLine, "sk-ecdsa-sha2-nistp256@openssh.com", kSkEcFingerprint, 256, "sk-ec@example"},
    };
    for (const Known& k : keys) {
        auto key = SshPublicKey::parseLine(k.line);
        ASSERT_TRUE(key.ok()) << k.type << ": " << key.error();
        EXPECT_EQ(key->type, k.type);
        EXPECT_EQ(key->fingerprint(), k.fingerprint) << k.type;
        EXPECT_EQ(key->bits, k.bits) << k.type;
        EXPECT_EQ(key->comment, k.comment);
        const std::string line(k.line);
        EXPECT_EQ(key->toLine(), line.substr(0, line.rfind(' ')));
        // fromBlob gives the same key, minus the comment.
        const std::string blob(key->blob.begin(), key->blob.end());
        auto again = SshPublicKey::fromBlob(blob);
        ASSERT_TRUE(again.ok()) << again.error();
        EXPECT_EQ(again->type, k.type);
        EXPECT_EQ(again->fingerprint(), k.fingerprint);
        EXPECT_EQ(again->bits, k.bits);
        EXPECT_EQ(again->comment, "");
        // toLine parses back to the same key.
        auto reparsed = SshPublicKey::parseLine(key->toLine());
        ASSERT_TRUE(reparsed.ok()) << reparsed.error();
        EXPECT_EQ(reparsed->blob, key->blob);
    }
}

TEST(SshPublicKey, WhitespaceAndComments) {
    const std::string base =
        std::string(kEd25519Line).substr(0, std::string(kEd25519Line).rfind(' '));
    auto plain = SshPublicKey::parseLine(base);
    ASSERT_TRUE(plain.ok()) << plain.error();
    EXPECT_EQ(plain->comment, "");
    auto padded = SshPublicKey::parseLine("  \t" + base + "   \n");
    ASSERT_TRUE(padded.ok()) << padded.error();
    EXPECT_EQ(padded->fingerprint(), kEd25519Fingerprint);
    auto crlf = SshPublicKey::parseLine(base + " me@laptop\r\n");
    ASSERT_TRUE(crlf.ok()) << crlf.error();
    EXPECT_EQ(crlf->comment, "me@laptop");
    auto tabs =
        SshPublicKey::parseLine("ssh-ed25519\t" + base.substr(12) + "\tAlice  Smith (work)");
    ASSERT_TRUE(tabs.ok()) << tabs.error();
    EXPECT_EQ(tabs->comment, "Alice  Smith (work)");
}

TEST(SshPublicKey, RefusesOptionsPrefix) {
    const std::string base = std::string(kEd25519Line);
    for (const std::string& line :
         {"command=\"/bin/true\" " + base, "no-pty " + base, "restrict " + base,
          "restrict,command=\"x\" " + base, "from=\"10.0.0.0/8\" " + base,
          "no-agent-forwarding,no-port-forwarding " + base, "cert-authority " + base,
          "environment=\"A=b\" " + base}) {
        auto key = SshPublicKey::parseLine(line);
        ASSERT_FALSE(key.ok()) << line;
        EXPECT_NE(key.error().find("options"), std::string::npos) << key.error();
    }
}

TEST(SshPublicKey, RefusesDsaAndUnknownTypes) {
    auto dsa = SshPublicKey::parseLine(kDsaLine);
    ASSERT_FALSE(dsa.ok());
    EXPECT_NE(dsa.error().find("DSA"), std::string::npos) << dsa.error();
    auto dsaBlob = SshPublicKey::fromBlob(blobOf(kDsaLine));
    ASSERT_FALSE(dsaBlob.ok());
    EXPECT_NE(dsaBlob.error().find("DSA"), std::string::npos) << dsaBlob.error();

    auto unknown = SshPublicKey::parseLine("ssh-foo AAAAB3NzaC1mb28= x");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().find("unsupported key type \"ssh-foo\""), std::string::npos)
        << unknown.error();
    EXPECT_NE(unknown.error().find("ssh-ed25519"), std::string::npos);

    auto unknownBlob = SshPublicKey::fromBlob(wireString("ssh-foo") + wireString("x"));
    ASSERT_FALSE(unknownBlob.ok());
    EXPECT_NE(unknownBlob.error().find("ssh-foo"), std::string::npos);

    auto cert = SshPublicKey::fromBlob(wireString("ssh-ed25519-cert-v01@openssh.com") +
                                       wireString("nonce"));
    ASSERT_FALSE(cert.ok());
    EXPECT_NE(cert.error().find("certificate"), std::string::npos) << cert.error();
}

TEST(SshPublicKey, RefusesSmallRsa) {
    auto small = SshPublicKey::parseLine(kRsa1024Line);
    ASSERT_FALSE(small.ok());
    EXPECT_NE(small.error().find("1024"), std::string::npos) << small.error();
    EXPECT_NE(small.error().find("2048"), std::string::npos) << small.error();

    auto b2047 = SshPublicKey::fromBlob(rsaBlob(2047));
    EXPECT_FALSE(b2047.ok());
    auto b2048 = SshPublicKey::fromBlob(rsaBlob(2048));
    ASSERT_TRUE(b2048.ok()) << b2048.error();
    EXPECT_EQ(b2048->bits, 2048);
    auto b4095 = SshPublicKey::fromBlob(rsaBlob(4095));
    ASSERT_TRUE(b4095.ok()) << b4095.error();
    EXPECT_EQ(b4095->bits, 4095);
    auto b16384 = SshPublicKey::fromBlob(rsaBlob(16384));
    ASSERT_TRUE(b16384.ok()) << b16384.error();
    EXPECT_EQ(b16384->bits, 16384);
    EXPECT_FALSE(SshPublicKey::fromBlob(rsaBlob(16385)).ok());
}

TEST(SshPublicKey, RsaMpintChecks) {
    // A 2048-bit modulus encoded without the leading zero reads as negative.
    std::string n(256, '\xff');
    EXPECT_FALSE(
        SshPublicKey::fromBlob(wireString("ssh-rsa") + wireString(kE65537) + wireString(n)).ok());
    // Extra leading zero bytes do not count as bits.
    const std::string padded = std::string(3, '\0') + n;
    auto ok =
        SshPublicKey::fromBlob(wireString("ssh-rsa") + wireString(kE65537) + wireString(padded));
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok->bits, 2048);
    EXPECT_FALSE(
        SshPublicKey::fromBlob(rsaBlob(2048, std::string("\x01\x00\x00", 3))).ok());  // even e
    EXPECT_FALSE(SshPublicKey::fromBlob(rsaBlob(2048, "")).ok());                     // e = 0
    EXPECT_FALSE(SshPublicKey::fromBlob(rsaBlob(2048, "\x01")).ok());                 // e = 1
    EXPECT_FALSE(SshPublicKey::fromBlob(rsaBlob(2048, "\x81")).ok());                 // negative e
    std::string evenN = rsaBlob(2048);
    evenN.back() = '\xfe';
    EXPECT_FALSE(SshPublicKey::fromBlob(evenN).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(wireString("ssh-rsa") + wireString(kE65537)).ok());
}

TEST(SshPublicKey, Ed25519Structure) {
    const std::string good = wireString("ssh-ed25519") + wireString(std::string(32, 'k'));
    auto key = SshPublicKey::fromBlob(good);
    ASSERT_TRUE(key.ok()) << key.error();
    EXPECT_EQ(key->bits, 256);
    EXPECT_FALSE(
        SshPublicKey::fromBlob(wireString("ssh-ed25519") + wireString(std::string(31, 'k'))).ok());
    EXPECT_FALSE(
        SshPublicKey::fromBlob(wireString("ssh-ed25519") + wireString(std::string(33, 'k'))).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(wireString("ssh-ed25519")).ok());
    auto trailing = SshPublicKey::fromBlob(good + "x");
    ASSERT_FALSE(trailing.ok());
    EXPECT_NE(trailing.error().find("trailing"), std::string::npos) << trailing.error();
    EXPECT_FALSE(SshPublicKey::fromBlob(good + wireString("")).ok());
}

TEST(SshPublicKey, EcdsaStructure) {
    struct Curve {
        const char* type;
        const char* curve;
        std::size_t length;
        int bits;
    };
    for (const Curve c : {Curve{"ecdsa-sha2-nistp256", "nistp256", 65, 256},
                          Curve{"ecdsa-sha2-nistp384", "nistp384", 97, 384},
                          Curve{"ecdsa-sha2-nistp521", "nistp521", 133, 521}}) {
        const std::string good =
            wireString(c.type) + wireString(c.curve) + wireString(ecPoint(c.length));
        auto key = SshPublicKey::fromBlob(good);
        ASSERT_TRUE(key.ok()) << c.type << ": " << key.error();
        EXPECT_EQ(key->bits, c.bits);
        EXPECT_FALSE(SshPublicKey::fromBlob(wireString(c.type) + wireString(c.curve) +
                                            wireString(ecPoint(c.length - 1)))
                         .ok());
        EXPECT_FALSE(SshPublicKey::fromBlob(wireString(c.type) + wireString(c.curve) +
                                            wireString(ecPoint(c.length + 1)))
                         .ok());
        std::string compressed = ecPoint(c.length);
        compressed[0] = '\x02';
        EXPECT_FALSE(SshPublicKey::fromBlob(wireString(c.type) + wireString(c.curve) +
                                            wireString(compressed))
                         .ok());
        EXPECT_FALSE(SshPublicKey::fromBlob(good + std::string(1, '\0')).ok());
    }
    auto mismatch = SshPublicKey::fromBlob(wireString("ecdsa-sha2-nistp256") +
                                           wireString("nistp384") + wireString(ecPoint(65)));
    ASSERT_FALSE(mismatch.ok());
    EXPECT_NE(mismatch.error().find("curve"), std::string::npos) << mismatch.error();
    EXPECT_FALSE(SshPublicKey::fromBlob(wireString("ecdsa-sha2-nistp256") + wireString("nistp384") +
                                        wireString(ecPoint(97)))
                     .ok());
}

TEST(SshPublicKey, SecurityKeyStructure) {
    const std::string ed =
        wireString("sk-ssh-ed25519@openssh.com") + wireString(std::string(32, 'k'));
    EXPECT_TRUE(SshPublicKey::fromBlob(ed + wireString("ssh:")).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(ed).ok());                   // no application
    EXPECT_FALSE(SshPublicKey::fromBlob(ed + wireString("")).ok());  // empty application
    EXPECT_FALSE(SshPublicKey::fromBlob(ed + wireString("ssh:") + "x").ok());
    const std::string ec = wireString("sk-ecdsa-sha2-nistp256@openssh.com") +
                           wireString("nistp256") + wireString(ecPoint(65));
    auto key = SshPublicKey::fromBlob(ec + wireString("ssh:"));
    ASSERT_TRUE(key.ok()) << key.error();
    EXPECT_EQ(key->bits, 256);
    EXPECT_FALSE(SshPublicKey::fromBlob(ec).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(wireString("sk-ecdsa-sha2-nistp256@openssh.com") +
                                        wireString("nistp384") + wireString(ecPoint(97)) +
                                        wireString("ssh:"))
                     .ok());
}

TEST(SshPublicKey, TypeMustMatchTheBlob) {
    const std::string line = lineOf("ssh-rsa", blobOf(kEd25519Line));
    auto key = SshPublicKey::parseLine(line);
    ASSERT_FALSE(key.ok());
    EXPECT_NE(key.error().find("does not match"), std::string::npos) << key.error();
    EXPECT_FALSE(
        SshPublicKey::parseLine(lineOf("ecdsa-sha2-nistp384", blobOf(kEcdsa256Line))).ok());
}

TEST(SshPublicKey, MalformedWireFormatIsBounded) {
    const std::string big = std::string("\xff\xff\xff\xff", 4) + "ssh-ed25519";
    EXPECT_FALSE(SshPublicKey::fromBlob(big).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob("").ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(std::string("\0\0\0", 3)).ok());
    EXPECT_FALSE(SshPublicKey::fromBlob(std::string("\0\0\0\0", 4)).ok());
    const std::string ed = blobOf(kEd25519Line);
    // Every truncation and every single-byte length corruption is refused or
    // still a consistent key; none reads out of bounds (run under ASan in CI).
    for (std::size_t len = 0; len < ed.size(); ++len) {
        EXPECT_FALSE(SshPublicKey::fromBlob(ed.substr(0, len)).ok()) << len;
    }
    const std::string rsa = blobOf(kRsa2048Line);
    for (std::size_t len = 0; len < rsa.size(); ++len) {
        EXPECT_FALSE(SshPublicKey::fromBlob(rsa.substr(0, len)).ok()) << len;
    }
    for (std::size_t i = 0; i < rsa.size(); ++i) {
        std::string mutated = rsa;
        mutated[i] = static_cast<char>(mutated[i] ^ 0x80);
        auto key = SshPublicKey::fromBlob(mutated);
        if (key.ok()) {
            EXPECT_GE(key->bits, 2048);
        }
    }
    EXPECT_FALSE(SshPublicKey::fromBlob(std::string(17 * 1024, 'A')).ok());
}

TEST(SshPublicKey, RejectsBadLines) {
    const std::string good(kEd25519Line);
    const std::string b64 = good.substr(12, good.rfind(' ') - 12);
    for (const std::string& line :
         {std::string(""), std::string("   \n"), std::string("ssh-ed25519"),
          std::string("ssh-ed25519   "), "ssh-ed25519 " + b64.substr(1), "ssh-ed25519 " + b64 + "=",
          "ssh-ed25519 " + b64.substr(0, b64.size() - 4), "ssh-ed25519 !" + b64.substr(1),
          "SSH-ED25519 " + b64, good + "\n" + good, good + "\r" + good,
          "ssh-ed25519 " + b64 + " comment\x1b[2J",
          std::string("ssh-ed25519 ") + b64 + std::string(" a\0b", 4),
          std::string("\0", 1) + good}) {
        EXPECT_FALSE(SshPublicKey::parseLine(line).ok()) << line;
    }
    auto nul = SshPublicKey::parseLine(good + std::string("\0", 1));
    ASSERT_FALSE(nul.ok());
    EXPECT_NE(nul.error().find("NUL"), std::string::npos) << nul.error();
    auto lines = SshPublicKey::parseLine(good + "\n" + good);
    ASSERT_FALSE(lines.ok());
    EXPECT_NE(lines.error().find("one"), std::string::npos) << lines.error();
    auto base64 = SshPublicKey::parseLine("ssh-ed25519 not*base64");
    ASSERT_FALSE(base64.ok());
    EXPECT_NE(base64.error().find("base64"), std::string::npos) << base64.error();
}

TEST(SshPublicKey, SizeLimit) {
    const std::string good(kEd25519Line);
    const std::string longComment = good + " " + std::string(16 * 1024, 'c');
    auto tooLong = SshPublicKey::parseLine(longComment);
    ASSERT_FALSE(tooLong.ok());
    EXPECT_NE(tooLong.error().find("16 KiB"), std::string::npos) << tooLong.error();
    const std::string justFits = good + " " + std::string(16 * 1024 - good.size() - 1, 'c');
    ASSERT_EQ(justFits.size(), 16u * 1024);
    EXPECT_TRUE(SshPublicKey::parseLine(justFits).ok());
}

}  // namespace
}  // namespace portcullis
