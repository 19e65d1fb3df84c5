// review/recording_export and review/playback_clock: what export writes for
// each format, and when play shows each event.
#include "review/recording_export.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "recording/cast_writer.hpp"
#include "recording/rec_format.hpp"
#include "review/playback_clock.hpp"
#include "tests/support/process.hpp"

namespace portcullis::review {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Micros = std::chrono::microseconds;

recording::RecordingMeta meta(const std::string& kind) {
    recording::RecordingMeta m;
    m.sessionId = "s1";
    m.kind = kind;
    m.width = 80;
    m.startedAtUnix = 1'700'000'000;
    return m;
}

class RecordingExportTest : public ::testing::Test {
  protected:
    std::string collect(
        const std::function<Result<recording::ReadSummary>(const ChunkSink&)>& run) {
        std::string out;
        const auto summary = run([&](std::string_view bytes) { out += bytes; });
        EXPECT_TRUE(summary) << summary.error();
        return out;
    }
    test::TempDir dir_;
};

TEST_F(RecordingExportTest, RecBecomesCastWithStreamsMappedAndSplitCharactersJoined) {
    const auto file = dir_.path() / "s1.rec";
    std::string rec = recording::recHeaderLine(meta("exec"));
    rec += recording::recFrame(100, 'o', "caf\xc3");  // "é" split across two reads
    rec += recording::recFrame(200, 'o', "\xa9\n");
    rec += recording::recFrame(300, 'e', "warning\n");
    rec += recording::recFrame(400, 'i', "yes\n");
    test::writeFile(file, rec);
    const auto cast = collect([&](const ChunkSink& sink) { return recToCast(file, false, sink); });
    EXPECT_THAT(cast, HasSubstr("\"version\":2"));
    // The held first byte of "é" is written with the rest of the character.
    EXPECT_THAT(cast, HasSubstr("[0.000100, \"o\", \"caf\"]\n[0.000200, \"o\", \"é\\n\"]"));
    EXPECT_THAT(cast, HasSubstr("[0.000300, \"o\", \"warning\\n\"]"));  // stderr as output
    EXPECT_THAT(cast, HasSubstr("[0.000400, \"i\", \"yes\\n\"]"));
}

TEST_F(RecordingExportTest, TerminalSafeCastEscapesWhatATerminalWouldActOn) {
    const auto file = dir_.path() / "s1.rec";
    std::string rec = recording::recHeaderLine(meta("exec"));
    rec += recording::recFrame(100, 'o',
                               "\xe2\x80\xae"
                               "evil\n");  // U+202E, raw in JSON
    test::writeFile(file, rec);
    const auto raw = collect([&](const ChunkSink& sink) { return recToCast(file, false, sink); });
    const auto safe = collect([&](const ChunkSink& sink) { return recToCast(file, true, sink); });
    EXPECT_THAT(raw, HasSubstr("\xe2\x80\xae"));  // the control: JSON leaves it raw
    EXPECT_THAT(safe, Not(HasSubstr("\xe2\x80\xae")));
    EXPECT_THAT(safe, HasSubstr("\\u202Eevil"));
}

TEST_F(RecordingExportTest, TextIsWhatTheScreenShowedOrTheLinesTyped) {
    const auto file = dir_.path() / "s1.cast";
    recording::CastStreamEncoder out('o'), in('i');
    std::string cast = recording::castHeaderLine(meta("shell"));
    cast += in.encode(100,
                      "ls -lx\x7f"
                      "a\r");
    cast += out.encode(200, "ls -la\r\n\x1b[1mtotal 0\x1b[0m\r\n");
    test::writeFile(file, cast);
    const auto screen = collect([&](const ChunkSink& sink) {
        return recordingText(file, recording::Format::cast, std::nullopt, sink);
    });
    EXPECT_EQ(screen, "ls -la\ntotal 0\n");
    const auto typed = collect([&](const ChunkSink& sink) {
        return recordingText(file, recording::Format::cast, 'i', sink);
    });
    EXPECT_EQ(typed, "ls -la\n");
    const auto rawInput =
        collect([&](const ChunkSink& sink) { return rawStream(file, 'i', sink); });
    EXPECT_EQ(rawInput,
              "ls -lx\x7f"
              "a\r");
}

TEST_F(RecordingExportTest, MissingFileIsAnError) {
    std::string out;
    EXPECT_FALSE(rawStream(dir_.path() / "none.cast", 'o', [&](std::string_view b) { out += b; }));
    EXPECT_FALSE(recToCast(dir_.path() / "none.rec", false, [&](std::string_view b) { out += b; }));
    EXPECT_EQ(out, "");
}

TEST(PlaybackClock, GapsAddUpScaledByTheSpeed) {
    PlaybackClock normal(1.0, std::nullopt);
    EXPECT_EQ(normal.due(0), Micros(0));
    EXPECT_EQ(normal.due(1'000'000), Micros(1'000'000));
    EXPECT_EQ(normal.due(3'000'000), Micros(3'000'000));
    PlaybackClock fast(2.0, std::nullopt);
    fast.due(0);
    EXPECT_EQ(fast.due(1'000'000), Micros(500'000));
    EXPECT_EQ(fast.due(3'000'000), Micros(1'500'000));
}

TEST(PlaybackClock, IdleLimitCapsEachGapAndOutOfOrderEventsAddNothing) {
    PlaybackClock clock(1.0, Micros(2'000'000));
    EXPECT_EQ(clock.due(500'000), Micros(500'000));
    EXPECT_EQ(clock.due(60'500'000), Micros(2'500'000));  // an hour idle: two seconds
    EXPECT_EQ(clock.due(60'000'000), Micros(2'500'000));  // earlier than the last: no gap
    EXPECT_EQ(clock.due(61'000'000), Micros(3'000'000));  // measured from the latest
}

}  // namespace
}  // namespace portcullis::review
