// The asciicast files must play in Debian's stock asciinema (SPEC §6).
#include <gtest/gtest.h>

#include <filesystem>

#include "recording/cast_writer.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/recording/recording_test_util.hpp"

namespace portcullis::recording {
namespace {

constexpr const char* kAsciinema = "/usr/bin/asciinema";

// asciinema cat/play need a terminal; script(1) gives them one.
test::ProcessResult underScript(const std::string& command) {
    test::ProcessOptions options;
    options.timeout = std::chrono::seconds(60);
    options.env["TERM"] = "xterm";
    return test::runProcess({"script", "-qec", command, "/dev/null"}, options);
}

std::filesystem::path writeSampleCast(const std::filesystem::path& dir, RecordingMeta meta) {
    std::string file = castHeaderLine(meta);
    CastStreamEncoder out('o');
    CastStreamEncoder in('i');
    file += out.encode(50000, "\x1b]0;root@cosigner\x07$ ");
    file += in.encode(100000, "echo caf\xC3");  // split character in the input too
    file += in.encode(100001, "\xA9\r");
    file += out.encode(150000, "echo caf\xC3\xA9\r\nPORTCULLIS-MARK caf\xC3");
    file += out.encode(150001, "\xA9 \xFF \"quoted\" \\ tab\there\r\n");
    file += castResizeLine(200000, 100, 30);
    file += out.encode(250000, "after-resize \xE2\x82");
    file += out.finish(250001);
    file += out.encode(300000, "\r\n$ ");
    const auto path = dir / "session.cast";
    test::writeFile(path, file);
    return path;
}

class Asciinema : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(kAsciinema)) GTEST_SKIP() << kAsciinema << " not installed";
    }
    test::TempDir dir_;
};

TEST_F(Asciinema, CatAcceptsOurCast) {
    const auto path = writeSampleCast(dir_.path(), testing::sampleMeta());
    const auto result = underScript(std::string(kAsciinema) + " cat " + path.string());
    ASSERT_EQ(result.exitCode, 0) << test::describe(result);
    EXPECT_FALSE(test::contains(result.out, "Traceback")) << result.out;
    EXPECT_TRUE(
        test::contains(result.out, "PORTCULLIS-MARK caf\xC3\xA9 \\xff \"quoted\" \\ tab\there"))
        << result.out;
    EXPECT_TRUE(test::contains(result.out, "after-resize \\xe2\\x82")) << result.out;
}

TEST_F(Asciinema, CatAcceptsExecHeaderWithoutTermOrGrant) {
    RecordingMeta meta = testing::sampleMeta();
    meta.kind = "exec";
    meta.command = "top -b \xFF";
    meta.term.clear();
    meta.grantId.reset();
    const auto path = writeSampleCast(dir_.path(), meta);
    const auto result = underScript(std::string(kAsciinema) + " cat " + path.string());
    ASSERT_EQ(result.exitCode, 0) << test::describe(result);
    EXPECT_TRUE(test::contains(result.out, "PORTCULLIS-MARK")) << result.out;
}

TEST_F(Asciinema, PlayAcceptsOurCast) {
    const auto path = writeSampleCast(dir_.path(), testing::sampleMeta());
    const auto result =
        underScript(std::string(kAsciinema) + " play -i 0.1 " + path.string() + " </dev/null");
    ASSERT_EQ(result.exitCode, 0) << test::describe(result);
    EXPECT_FALSE(test::contains(result.out, "Traceback")) << result.out;
    EXPECT_TRUE(test::contains(result.out, "PORTCULLIS-MARK")) << result.out;
}

}  // namespace
}  // namespace portcullis::recording
