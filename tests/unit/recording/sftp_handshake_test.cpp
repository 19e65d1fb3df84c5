// Issue 12 finding 11: an exec channel running sftp-server carries full SFTP;
// the review commands name it when its input starts with SSH_FXP_INIT.
#include "recording/sftp_handshake.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::recording {
namespace {

using namespace std::string_literals;

const std::string kInit = "\x00\x00\x00\x05\x01\x00\x00\x00\x03"s;

TEST(SftpHandshake, InitIsRecognised) {
    EXPECT_EQ(sftpStart(kInit), SftpStart::yes);
    EXPECT_EQ(sftpStart(kInit + "\x00\x00\x00\x10"s), SftpStart::yes);
    // With extensions the length is larger.
    EXPECT_EQ(sftpStart("\x00\x00\x00\x20\x01\x00\x00\x00\x06"s), SftpStart::yes);
    for (std::size_t n = 0; n < kInit.size(); ++n) {
        EXPECT_EQ(sftpStart(kInit.substr(0, n)), SftpStart::needMore) << n;
    }
}

TEST(SftpHandshake, OtherInputIsNot) {
    EXPECT_EQ(sftpStart("ls -l\n"), SftpStart::no);
    EXPECT_EQ(sftpStart("\x00\x00\x00\x05\x02\x00\x00\x00\x03"s), SftpStart::no);  // VERSION
    EXPECT_EQ(sftpStart("\x00\x00\x00\x04\x01\x00\x00\x00\x03"s), SftpStart::no);  // too short
    EXPECT_EQ(sftpStart("\x00\x7f\x00\x05\x01\x00\x00\x00\x03"s), SftpStart::no);  // too long
    EXPECT_EQ(sftpStart("\x01"s), SftpStart::no);
}

TEST(SftpHandshake, DetectorTakesAnySplit) {
    for (std::size_t cut = 0; cut <= kInit.size(); ++cut) {
        SftpStartDetector d;
        d.input(kInit.substr(0, cut));
        d.input(kInit.substr(cut));
        d.input("more bytes");
        EXPECT_TRUE(d.carriesSftp()) << cut;
    }
    SftpStartDetector shell;
    shell.input("tar xzf -\n");
    EXPECT_TRUE(shell.decided());
    EXPECT_FALSE(shell.carriesSftp());
}

}  // namespace
}  // namespace portcullis::recording
