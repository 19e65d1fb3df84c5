#include "recording/recording_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <tuple>

#include "recording/cast_writer.hpp"
#include "recording/rec_format.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/recording/recording_test_util.hpp"

namespace portcullis::recording {
namespace {

using test::TempDir;
using test::writeFile;
using testing::readAll;
using testing::sampleMeta;

Result<ReadSummary> readQuietly(const std::filesystem::path& path, std::int64_t* count = nullptr) {
    return readRecording(path, [&](const RecordingEvent&) {
        if (count) ++*count;
        return true;
    });
}

std::string sampleRec() {
    RecordingMeta meta = sampleMeta();
    meta.kind = "exec";
    meta.command = "cat > upload.bin";
    meta.term.clear();
    std::string file = recHeaderLine(meta);
    file += recFrame(10, 'i', testing::allBytes());
    file += recFrame(20, 'o', "");
    file += recFrame(30, 'e', "warning\n");
    file += recFrame(40, 'i', "\n");
    return file;
}

std::string sampleCast() {
    std::string file = castHeaderLine(sampleMeta());
    CastStreamEncoder out('o');
    CastStreamEncoder in('i');
    file += out.encode(100000, "$ ");
    file += in.encode(200000, "ls\r");
    file += out.encode(300000, "a.txt  \xE2\x82");
    file += out.encode(300001, "\xAC.txt\r\n");
    file += castResizeLine(400000, 100, 30);
    file += out.encode(500000, "bad \xFF byte\r\n");
    return file;
}

TEST(FormatOf, ByExtension) {
    EXPECT_EQ(*formatOf("/r/s-1.1.cast"), Format::cast);
    EXPECT_EQ(*formatOf("s-1.2.rec"), Format::rec);
    EXPECT_FALSE(formatOf("s-1.txt").ok());
    EXPECT_FALSE(formatOf("cast").ok());
}

TEST(RecordingReader, MissingFileIsAnError) {
    TempDir dir;
    const auto result = readQuietly(dir.path() / "none.cast");
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().find("cannot open"), std::string::npos) << result.error();
}

TEST(RecordingReader, RecRoundTripIsByteExact) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    writeFile(path, sampleRec());
    const auto back = readAll(path);
    EXPECT_FALSE(back.summary.truncated);
    EXPECT_EQ(back.summary.events, 4);
    EXPECT_EQ(back.summary.header["format"], "rec");
    EXPECT_EQ(back.summary.header["command"], "cat > upload.bin");
    ASSERT_EQ(back.events.size(), 4u);
    EXPECT_EQ(back.events[0].elapsedUs, 10);
    EXPECT_EQ(back.events[0].stream, 'i');
    EXPECT_EQ(back.events[0].data, testing::allBytes());
    EXPECT_EQ(back.events[1].stream, 'o');
    EXPECT_EQ(back.events[1].data, "");
    EXPECT_EQ(back.events[2].stream, 'e');
    EXPECT_EQ(back.events[2].data, "warning\n");
    EXPECT_EQ(back.events[3].data, "\n");
    EXPECT_EQ(back.events[3].elapsedUs, 40);
}

TEST(RecordingReader, RecEveryByteInItsOwnFrame) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    std::string file = recHeaderLine(sampleMeta());
    const std::string bytes = testing::allBytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        file += recFrame(static_cast<std::int64_t>(i), "ioe"[i % 3], bytes.substr(i, 1));
    }
    writeFile(path, file);
    const auto back = readAll(path);
    ASSERT_EQ(back.events.size(), 256u);
    std::string joined;
    for (const auto& e : back.events) joined += e.data;
    EXPECT_EQ(joined, bytes);
    EXPECT_EQ(back.events[255].stream, "ioe"[255 % 3]);
}

TEST(RecordingReader, RecFrameHeaderIsAscii) {
    EXPECT_EQ(recFrameHeader(1234567, 'o', 42), "1234567 o 42\n");
    EXPECT_EQ(recFrame(5, 'e', "ab"), "5 e 2\nab\n");
    EXPECT_EQ(recFrameHeader(-3, 'i', 0), "0 i 0\n");
    const auto header = nlohmann::json::parse(recHeaderLine(sampleMeta()));
    EXPECT_EQ(header["version"], 2);
    EXPECT_EQ(header["format"], "rec");
}

TEST(RecordingReader, CastRoundTrip) {
    TempDir dir;
    const auto path = dir.path() / "s.cast";
    writeFile(path, sampleCast());
    const auto back = readAll(path);
    EXPECT_FALSE(back.summary.truncated);
    EXPECT_EQ(back.summary.header["portcullis"]["account"], "alice");
    ASSERT_EQ(back.events.size(), 6u);
    EXPECT_EQ(back.events[0].data, "$ ");
    EXPECT_EQ(back.events[0].elapsedUs, 100000);
    EXPECT_EQ(back.events[1].stream, 'i');
    EXPECT_EQ(back.events[1].data, "ls\r");
    EXPECT_EQ(back.events[2].data, "a.txt  ");
    EXPECT_EQ(back.events[3].data, "\xE2\x82\xAC.txt\r\n");  // joined across reads
    EXPECT_EQ(back.events[3].elapsedUs, 300001);
    EXPECT_EQ(back.events[4].stream, 'r');
    EXPECT_EQ(back.events[4].data, "100x30");
    EXPECT_EQ(back.events[5].data, "bad \\xff byte\r\n");
}

TEST(RecordingReader, StopsWhenAsked) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    writeFile(path, sampleRec());
    int seen = 0;
    const auto result = readRecording(path, [&](const RecordingEvent&) { return ++seen < 2; });
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(seen, 2);
    EXPECT_EQ(result->events, 2);
}

// Cutting the file anywhere after the header never makes an error: complete
// frames are delivered, and a cut inside a frame is reported as truncated.
TEST(RecordingReader, RecCutAnywhereIsTruncatedNotAnError) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    const std::string file = sampleRec();
    const std::size_t headerEnd = file.find('\n') + 1;
    // Byte offsets where a complete frame ends (the frames of sampleRec()).
    std::vector<std::size_t> boundaries = {headerEnd};
    std::size_t at = headerEnd;
    for (const auto& [t, s, d] :
         std::vector<std::tuple<int, char, std::string>>{{10, 'i', testing::allBytes()},
                                                         {20, 'o', ""},
                                                         {30, 'e', "warning\n"},
                                                         {40, 'i', "\n"}}) {
        at += recFrame(t, s, d).size();
        boundaries.push_back(at);
    }
    ASSERT_EQ(boundaries.back(), file.size());
    for (std::size_t cut = headerEnd; cut <= file.size(); ++cut) {
        writeFile(path, file.substr(0, cut));
        std::int64_t delivered = 0;
        const auto result = readQuietly(path, &delivered);
        ASSERT_TRUE(result.ok()) << "cut at " << cut << ": " << result.error();
        const auto complete = static_cast<std::int64_t>(
            std::upper_bound(boundaries.begin(), boundaries.end(), cut) - boundaries.begin() - 1);
        const bool atBoundary =
            std::find(boundaries.begin(), boundaries.end(), cut) != boundaries.end();
        EXPECT_EQ(result->truncated, !atBoundary) << "cut at " << cut;
        EXPECT_EQ(delivered, complete) << "cut at " << cut;
        EXPECT_EQ(result->events, complete);
        if (!atBoundary) {
            EXPECT_NE(result->problem.find("offset"), std::string::npos);
        }
    }
}

TEST(RecordingReader, CastCutAnywhereIsTruncatedNotAnError) {
    TempDir dir;
    const auto path = dir.path() / "s.cast";
    const std::string file = sampleCast();
    const std::size_t headerEnd = file.find('\n') + 1;
    for (std::size_t cut = headerEnd; cut <= file.size(); ++cut) {
        const std::string part = file.substr(0, cut);
        writeFile(path, part);
        std::int64_t delivered = 0;
        const auto result = readQuietly(path, &delivered);
        ASSERT_TRUE(result.ok()) << "cut at " << cut << ": " << result.error();
        const auto newlines = static_cast<std::int64_t>(std::count(part.begin(), part.end(), '\n'));
        const bool atLineEnd = part.back() == '\n';
        // A line missing only its "\n" is complete JSON and still delivered.
        const bool onlyNewlineMissing = cut < file.size() && file[cut] == '\n';
        EXPECT_EQ(result->truncated, !atLineEnd && !onlyNewlineMissing) << "cut at " << cut;
        EXPECT_EQ(delivered, newlines - 1 + (onlyNewlineMissing ? 1 : 0)) << "cut at " << cut;
    }
}

TEST(RecordingReader, MalformedHeaderIsAnError) {
    TempDir dir;
    for (const std::string name : {"s.cast", "s.rec"}) {
        const auto path = dir.path() / name;
        for (const std::string bad : {"", "not json\n", "[1, 2]\n", "{\"version\": 2"}) {
            writeFile(path, bad);
            const auto result = readQuietly(path);
            ASSERT_FALSE(result.ok()) << name << " <" << bad << ">";
            EXPECT_EQ(result.error().rfind("line 1: ", 0), 0u) << result.error();
        }
    }
    const auto cast = dir.path() / "v1.cast";
    writeFile(cast, "{\"version\": 1}\n");
    EXPECT_FALSE(readQuietly(cast).ok());
    // Unknown header fields of any type are left alone.
    writeFile(cast, "{\"version\": 2, \"format\": 5, \"x\": [1]}\n[1, \"o\", \"a\"]\n");
    EXPECT_EQ(readAll(cast).events.size(), 1u);
    // A .rec renamed to .cast is refused, not misread.
    writeFile(cast, recHeaderLine(sampleMeta()));
    EXPECT_FALSE(readQuietly(cast).ok());
}

TEST(RecordingReader, MalformedCastLineNamesTheLine) {
    TempDir dir;
    const auto path = dir.path() / "s.cast";
    const std::string header = castHeaderLine(sampleMeta());
    for (const std::string bad :
         {"nope", "[1.0, \"o\"]", "[\"1\", \"o\", \"x\"]", "[1.0, \"oo\", \"x\"]",
          "[1.0, \"o\", 5]", "[-1.0, \"o\", \"x\"]", "{\"a\": 1}", "[1.0, \"o\", \"\xFF\"]"}) {
        writeFile(path, header + "[0.5, \"o\", \"fine\"]\n" + bad + "\n[2.0, \"o\", \"x\"]\n");
        std::int64_t delivered = 0;
        const auto result = readQuietly(path, &delivered);
        ASSERT_FALSE(result.ok()) << bad;
        EXPECT_EQ(result.error().rfind("line 3: ", 0), 0u) << result.error();
        EXPECT_EQ(delivered, 1);
    }
}

TEST(RecordingReader, CastSkipsBlankLines) {
    TempDir dir;
    const auto path = dir.path() / "s.cast";
    writeFile(path, castHeaderLine(sampleMeta()) + "\n[0.5, \"o\", \"x\"]\n\n");
    const auto back = readAll(path);
    EXPECT_EQ(back.events.size(), 1u);
    EXPECT_FALSE(back.summary.truncated);
}

TEST(RecordingReader, MalformedRecFrameNamesTheOffset) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    const std::string header = recHeaderLine(sampleMeta());
    const std::string good = recFrame(1, 'o', "abc");
    const std::string offset = "offset " + std::to_string(header.size() + good.size()) + ": ";
    for (const std::string& bad :
         {std::string("x o 3\nabc\n"), std::string("1 q 3\nabc\n"), std::string("1 o\nabc\n"),
          std::string("1  o 3\nabc\n"), std::string("1 o 3 \nabc\n"), std::string("-1 o 3\nabc\n"),
          std::string("1 o 2\nabc\n"),  // wrong length: no newline after the payload
          std::string("1 o 99999999999\n"), std::string(100, '1') + "\n"}) {
        writeFile(path, header + good + bad + good);
        std::int64_t delivered = 0;
        const auto result = readQuietly(path, &delivered);
        ASSERT_FALSE(result.ok()) << bad;
        EXPECT_EQ(result.error().rfind(offset, 0), 0u) << result.error();
        EXPECT_EQ(delivered, 1);
    }
}

TEST(RecordingReader, RecHeaderClaimingAnotherFormatIsRefused) {
    TempDir dir;
    const auto path = dir.path() / "s.rec";
    writeFile(path, "{\"version\": 2, \"format\": \"zip\"}\n");
    EXPECT_FALSE(readQuietly(path).ok());
    // A header without "format" (hand-made) is accepted.
    writeFile(path, "{\"version\": 2}\n" + recFrame(1, 'o', "x"));
    EXPECT_EQ(readAll(path).events.size(), 1u);
}

TEST(RecordingReader, LargeRecIsStreamed) {
    // 64 MiB in 1 MiB frames: read frame by frame, checked without keeping them.
    TempDir dir;
    const auto path = dir.path() / "big.rec";
    const std::string chunk(1u << 20, 'z');
    {
        std::ofstream f(path, std::ios::binary);
        f << recHeaderLine(sampleMeta());
        for (int i = 0; i < 64; ++i) f << recFrame(i, 'o', chunk);
    }
    std::int64_t bytes = 0;
    const auto result = readRecording(path, [&](const RecordingEvent& e) {
        bytes += static_cast<std::int64_t>(e.data.size());
        return true;
    });
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result->events, 64);
    EXPECT_EQ(bytes, 64 << 20);
}

}  // namespace
}  // namespace portcullis::recording
