#include "recording/file_digest.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.hpp"
#include "tests/unit/recording/recording_test_util.hpp"

namespace portcullis::recording {
namespace {

using test::TempDir;

TEST(Sha256Stream, KnownVectors) {
    Sha256Stream empty;
    EXPECT_EQ(empty.finishHex(),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256Stream abc;
    abc.update("a");
    abc.update("");
    abc.update("bc");
    EXPECT_EQ(abc.finishHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Stream, UseAfterFinishThrows) {
    Sha256Stream hash;
    (void)hash.finishHex();
    EXPECT_THROW(hash.update("x"), std::logic_error);
    EXPECT_THROW((void)hash.finishHex(), std::logic_error);
}

TEST(FileDigest, MatchesSha256sum) {
    TempDir dir;
    const auto path = dir.path() / "data.rec";
    {
        // A few MiB with every byte value, not a multiple of the read size.
        std::ofstream f(path, std::ios::binary);
        for (int i = 0; i < 12345; ++i) f << testing::allBytes();
    }
    const auto digest = digestFile(path);
    ASSERT_TRUE(digest.ok()) << digest.error();
    EXPECT_EQ(digest->size, 12345u * 256u);
    const auto sum = test::runProcess({"sha256sum", path.string()});
    ASSERT_EQ(sum.exitCode, 0) << test::describe(sum);
    EXPECT_EQ(digest->sha256, sum.out.substr(0, 64));
}

TEST(FileDigest, EmptyFile) {
    TempDir dir;
    const auto path = dir.path() / "empty";
    test::writeFile(path, "");
    const auto digest = digestFile(path);
    ASSERT_TRUE(digest.ok()) << digest.error();
    EXPECT_EQ(digest->size, 0u);
    EXPECT_EQ(digest->sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileDigest, MissingFileIsAnError) {
    TempDir dir;
    const auto digest = digestFile(dir.path() / "none");
    ASSERT_FALSE(digest.ok());
    EXPECT_NE(digest.error().find("none"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::recording
