#include "recording/cast_writer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "recording/utf8_text.hpp"
#include "tests/unit/recording/recording_test_util.hpp"

namespace portcullis::recording {
namespace {

using testing::eventData;

// Encodes `reads` one after another and joins the data of the event lines.
std::string encodeAll(const std::vector<std::string>& reads) {
    CastStreamEncoder encoder('o');
    std::string text;
    std::int64_t t = 0;
    for (const auto& read : reads) {
        const std::string line = encoder.encode(t += 1000, read);
        if (!line.empty()) text += eventData(line);
    }
    const std::string last = encoder.finish(t);
    if (!last.empty()) text += eventData(last);
    return text;
}

TEST(CastTime, SixDecimals) {
    EXPECT_EQ(castTime(0), "0.000000");
    EXPECT_EQ(castTime(12), "0.000012");
    EXPECT_EQ(castTime(1234567), "1.234567");
    EXPECT_EQ(castTime(3600000000), "3600.000000");
    EXPECT_EQ(castTime(-5), "0.000000");
}

TEST(CastWriter, EventLineLayout) {
    CastStreamEncoder out('o');
    EXPECT_EQ(out.encode(1234567, "hi"), "[1.234567, \"o\", \"hi\"]\n");
    CastStreamEncoder in('i');
    EXPECT_EQ(in.encode(5, "ls\r"), "[0.000005, \"i\", \"ls\\r\"]\n");
    EXPECT_EQ(castResizeLine(2000000, 132, 43), "[2.000000, \"r\", \"132x43\"]\n");
}

TEST(CastWriter, EmptyReadWritesNothing) {
    CastStreamEncoder encoder('o');
    EXPECT_EQ(encoder.encode(1, ""), "");
    EXPECT_EQ(encoder.finish(2), "");
}

TEST(CastWriter, MultiByteCharacterSplitAtEveryPosition) {
    // 2-, 3- and 4-byte characters between ASCII, split into two reads anywhere.
    for (const std::string ch : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
        const std::string text = "a" + ch + "b" + ch;
        for (std::size_t cut = 0; cut <= text.size(); ++cut) {
            const std::vector<std::string> reads = {text.substr(0, cut), text.substr(cut)};
            EXPECT_EQ(encodeAll(reads), text) << "cut at " << cut;
        }
    }
}

TEST(CastWriter, MultiByteCharacterOneByteAtATime) {
    const std::string text = "\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xA9x";
    std::vector<std::string> reads;
    for (const char c : text) reads.emplace_back(1, c);
    EXPECT_EQ(encodeAll(reads), text);
}

TEST(CastWriter, HeldBytesProduceNoEvent) {
    CastStreamEncoder encoder('o');
    EXPECT_EQ(encoder.encode(1, "\xF0\x9F"), "");
    EXPECT_EQ(encoder.encode(2, "\x98"), "");
    EXPECT_EQ(eventData(encoder.encode(3, "\x80!")), "\xF0\x9F\x98\x80!");
}

TEST(CastWriter, InvalidBytesAreEscapedVisibly) {
    EXPECT_EQ(encodeAll({"a\xFF"
                         "b"}),
              "a\\xffb");
    EXPECT_EQ(encodeAll({"\x80"}), "\\x80");                             // lone continuation byte
    EXPECT_EQ(encodeAll({"\xC0\xAF"}), "\\xc0\\xaf");                    // overlong '/'
    EXPECT_EQ(encodeAll({"\xED\xA0\x80"}), "\\xed\\xa0\\x80");           // surrogate
    EXPECT_EQ(encodeAll({"\xF4\x90\x80\x80"}), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
    EXPECT_EQ(encodeAll({"\xC3(x"}), "\\xc3(x");             // lead byte without its continuation
    EXPECT_EQ(encodeAll({"\xE2\x82", "x"}), "\\xe2\\x82x");  // broken across reads
}

TEST(CastWriter, IncompleteCharacterAtEndIsEscapedByFinish) {
    CastStreamEncoder encoder('o');
    EXPECT_EQ(eventData(encoder.encode(1, "ok\xE2\x82")), "ok");
    EXPECT_EQ(eventData(encoder.finish(2)), "\\xe2\\x82");
    EXPECT_EQ(encoder.finish(3), "");
}

TEST(CastWriter, EveryByteValueIsKeptOrEscaped) {
    const std::string bytes = testing::allBytes();
    const std::string text = encodeAll({bytes});
    // ASCII comes back as itself (JSON-escaped on disk); every byte >= 0x80 is alone
    // here and so invalid: written as \xNN.
    EXPECT_EQ(text.substr(0, 128), bytes.substr(0, 128));
    EXPECT_EQ(text.substr(128, 4), "\\x80");
    EXPECT_EQ(text.substr(text.size() - 4), "\\xff");
    EXPECT_EQ(text.size(), 128u + 128u * 4u);
}

TEST(CastWriter, ControlCharactersAndQuotesAreJsonEscaped) {
    CastStreamEncoder encoder('o');
    const std::string bytes = std::string("\x1b[31m\"q\"\\ \r\n\t\b\f\x7f") + '\0' + "\x01";
    const std::string line = encoder.encode(1, bytes);
    EXPECT_EQ(
        line,
        "[0.000001, \"o\", \"\\u001b[31m\\\"q\\\"\\\\ \\r\\n\\t\\b\\f\\u007f\\u0000\\u0001\"]\n");
    EXPECT_EQ(eventData(line), bytes);
    // No raw control character ever reaches the file.
    for (const char c : line.substr(0, line.size() - 1)) {
        EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    }
}

TEST(CastWriter, HeaderLineIsOneJsonObject) {
    const std::string line = castHeaderLine(testing::sampleMeta());
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    const auto header = nlohmann::json::parse(line);
    EXPECT_EQ(header["version"], 2);
    EXPECT_EQ(header["width"], 120);
    EXPECT_EQ(header["height"], 40);
    EXPECT_EQ(header["timestamp"], 1700000000);
    EXPECT_EQ(header["env"]["TERM"], "xterm-256color");
    EXPECT_EQ(header["portcullis"]["session"], "s-0001");
    EXPECT_FALSE(header.contains("format"));
}

// Random bytes, rich in UTF-8 lead and continuation bytes, cut into random
// reads: the text is the same as when encoded in one piece, and every line is
// valid JSON (eventData parses it).
TEST(CastWriter, AnySplitGivesTheSameText) {
    std::mt19937 random(20261125);
    const std::string pieces[] = {
        "a",       "\n",   "\x1b", "\"",   "\\",   "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "\xC3",    "\xE2", "\xF0", "\x82", "\xBF", "\xFF",     "\xC0",         "\xED\xA0",
        "\xF4\x90"};
    for (int round = 0; round < 300; ++round) {
        std::string bytes;
        const int count = std::uniform_int_distribution<int>(0, 40)(random);
        for (int i = 0; i < count; ++i) {
            bytes += pieces[std::uniform_int_distribution<std::size_t>(
                0, std::size(pieces) - 1)(random)];
        }
        const std::string whole = encodeAll({bytes});
        ASSERT_EQ(whole, detail::toValidUtf8(bytes));
        std::vector<std::string> reads;
        for (std::size_t at = 0; at < bytes.size();) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 5)(random);
            reads.push_back(bytes.substr(at, n));
            at += n;
        }
        ASSERT_EQ(encodeAll(reads), whole) << "round " << round;
    }
}

}  // namespace
}  // namespace portcullis::recording
