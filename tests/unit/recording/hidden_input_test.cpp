// recording/hidden_input: the placeholder of sealed input and its sidecar
// line (issue 12 finding 8, SPEC §6).
#include "recording/hidden_input.hpp"

#include <gtest/gtest.h>

namespace portcullis::recording {
namespace {

TEST(HiddenInput, PlaceholderIsExactAndRecognised) {
    EXPECT_EQ(hiddenInputPlaceholder(9), "[hidden input, 9 bytes]");
    EXPECT_EQ(hiddenInputPlaceholder(1), "[hidden input, 1 byte]");
    EXPECT_TRUE(isHiddenInputPlaceholder("[hidden input, 9 bytes]"));
    EXPECT_TRUE(isHiddenInputPlaceholder("[hidden input, 1 byte]"));
    EXPECT_FALSE(isHiddenInputPlaceholder("[hidden input, 1 bytes]"));
    EXPECT_FALSE(isHiddenInputPlaceholder("[hidden input, 09 bytes]"));
    EXPECT_FALSE(isHiddenInputPlaceholder("[hidden input, 9 bytes]x"));
    EXPECT_FALSE(isHiddenInputPlaceholder("[hidden input,  bytes]"));
    EXPECT_FALSE(isHiddenInputPlaceholder("ls"));
}

TEST(HiddenInput, SidecarLineRoundTrips) {
    HiddenInputEntry e;
    e.event = 12;
    e.elapsedUs = 3'250'001;
    e.bytes = 4;
    e.sealed = std::string("\x00\x01\xfe\xff", 4);
    const auto line = hiddenInputLine(e);
    EXPECT_EQ(line, "{\"event\":12,\"t\":3.250001,\"bytes\":4,\"sealed\":\"AAH+/w==\"}\n");
    const auto back = parseHiddenInputLine(line);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->event, 12);
    EXPECT_EQ(back->elapsedUs, 3'250'001);
    EXPECT_EQ(back->bytes, 4);
    EXPECT_EQ(back->sealed, e.sealed);
    EXPECT_FALSE(parseHiddenInputLine("{\"event\":0,\"sealed\":\"\"}").ok());
    EXPECT_FALSE(parseHiddenInputLine("{\"event\":1,\"sealed\":\"!!\"}").ok());
    EXPECT_FALSE(parseHiddenInputLine("garbage").ok());
}

TEST(HiddenInput, AssociatedDataNamesSessionChannelAndEvent) {
    EXPECT_EQ(hiddenInputAssociatedData("abc", 2, 7), "portcullis:hidden-input:v1:abc:2:7");
    EXPECT_NE(hiddenInputAssociatedData("abc", 2, 7), hiddenInputAssociatedData("abc", 2, 8));
}

}  // namespace
}  // namespace portcullis::recording
