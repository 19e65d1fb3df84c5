// review/recording_search: matches in what a recording showed and what was
// typed, with context, within a budget; and the ordered workers that run it
// over many recordings.
#include "review/recording_search.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "recording/cast_writer.hpp"
#include "review/ordered_workers.hpp"
#include "tests/support/process.hpp"

namespace portcullis::review {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecordingSearchTest : public ::testing::Test {
  protected:
    // A terminal recording: `output` events, then `input` events, each
    // {elapsed microseconds, bytes}.
    db::RecordingRow write(const std::vector<std::pair<std::int64_t, std::string>>& output,
                           const std::vector<std::pair<std::int64_t, std::string>>& input = {}) {
        recording::RecordingMeta meta;
        meta.sessionId = "s1";
        meta.kind = "shell";
        meta.width = 80;
        meta.startedAtUnix = 1'700'000'000;
        std::string text = recording::castHeaderLine(meta);
        recording::CastStreamEncoder out('o'), in('i');
        std::size_t o = 0, i = 0;
        while (o < output.size() || i < input.size()) {  // in time order
            if (i == input.size() || (o < output.size() && output[o].first <= input[i].first)) {
                text += out.encode(output[o].first, output[o].second);
                ++o;
            } else {
                text += in.encode(input[i].first, input[i].second);
                ++i;
            }
        }
        test::writeFile(file_, text);
        db::RecordingRow row;
        row.sessionId = "s1";
        row.kind = "shell";
        row.format = "cast";
        row.path = "recordings/s1.cast";
        return row;
    }
    std::unique_ptr<Regex> regex(const std::string& pattern, bool ignoreCase = false) {
        auto compiled = Regex::compile(pattern, ignoreCase);
        EXPECT_TRUE(compiled) << compiled.error();
        return std::move(compiled.value());
    }
    Searched search(const db::RecordingRow& row, const std::string& pattern,
                    std::size_t context = 0, std::int64_t limit = 1000) {
        Budget budget{limit, 0};
        auto result = searchRecording(file_, row, *regex(pattern), context, budget);
        EXPECT_TRUE(result) << result.error();
        return result ? std::move(result.value()) : Searched{};
    }

    test::TempDir dir_;
    std::filesystem::path file_ = dir_.path() / "s1.cast";
};

TEST_F(RecordingSearchTest, MatchesOutputAsTheScreenShowedIt) {
    // Colours and a cursor move inside the word: the screen showed "secret".
    const auto row = write({{100, "no match here\r\n"}, {200, "\x1b[31msec\x1b[0mret key\r\n"}});
    const auto found = search(row, "secret key");
    ASSERT_EQ(found.matches.size(), 1u);
    EXPECT_EQ(found.matches[0].stream, "output");
    EXPECT_EQ(found.matches[0].line, "secret key");
    EXPECT_EQ(found.matches[0].elapsedUs, 200);
    EXPECT_EQ(found.startedAtUnix, 1'700'000'000);
    EXPECT_TRUE(search(row, "nothing like this").matches.empty());  // the control
}

TEST_F(RecordingSearchTest, MatchesTypedLinesWithEditingApplied) {
    // "rm -rf /tmp/x" typed with a typo fixed by backspace; echoed back.
    const auto row =
        write({{300, "rm -rf /tmp/x\r\n"}}, {{100, "rm -rg\x7f"}, {200, "f /tmp/x\r"}});
    const auto found = search(row, "^rm -rf /tmp/x$");
    std::vector<std::string> streams;
    for (const auto& m : found.matches) streams.push_back(m.stream);
    EXPECT_THAT(streams, ElementsAre("input", "output"));
    EXPECT_FALSE(found.matches[0].approximate);
    EXPECT_TRUE(search(row, "rm -rg").matches.empty());  // what was erased is not a line
}

TEST_F(RecordingSearchTest, ContextAndBudget) {
    std::vector<std::pair<std::int64_t, std::string>> lines;
    for (int i = 1; i <= 9; ++i) lines.push_back({i * 100, "line " + std::to_string(i) + "\r\n"});
    const auto row = write(lines);
    const auto withContext = search(row, "line 5", 2);
    ASSERT_EQ(withContext.matches.size(), 1u);
    EXPECT_THAT(withContext.matches[0].before, ElementsAre("line 3", "line 4"));
    EXPECT_THAT(withContext.matches[0].after, ElementsAre("line 6", "line 7"));
    // Nine lines match "line"; a budget of three stops at three.
    EXPECT_EQ(search(row, "line", 0, 3).matches.size(), 3u);
    EXPECT_EQ(search(row, "line", 0, 1000).matches.size(), 9u);
    EXPECT_EQ(search(row, "LINE 5", 0).matches.size(), 0u);
    Budget budget{1000, 0};
    EXPECT_EQ(searchRecording(file_, row, *regex("LINE 5", true), 0, budget)->matches.size(), 1u);
}

TEST_F(RecordingSearchTest, BadPatternAndUnreadableFileAreErrors) {
    const auto bad = Regex::compile("(unclosed", false);
    ASSERT_FALSE(bad);
    EXPECT_THAT(bad.error(), HasSubstr("REGEX `(unclosed`"));
    db::RecordingRow row;
    row.format = "cast";
    Budget budget;
    const auto missing = searchRecording(dir_.path() / "none.cast", row, *regex("x"), 0, budget);
    EXPECT_FALSE(missing);
}

TEST(OrderedWorkers, ResultsComeInJobOrderWhateverFinishesFirst) {
    std::vector<int> jobs;
    for (int i = 0; i < 20; ++i) jobs.push_back(i);
    OrderedWorkers<int, int> workers(jobs, 4, 2, [](const int& job, unsigned) -> Result<int> {
        // Early jobs take longest, so later ones finish first.
        std::this_thread::sleep_for(std::chrono::milliseconds(20 - job));
        if (job == 7) throw std::runtime_error("job seven failed");
        return job * 10;
    });
    for (int i = 0; i < 20; ++i) {
        auto result = workers.next();
        ASSERT_TRUE(result.has_value()) << i;
        if (i == 7) {
            ASSERT_FALSE(*result);
            EXPECT_EQ(result->error(), "job seven failed");  // an exception is that job's error
        } else {
            ASSERT_TRUE(*result) << i;
            EXPECT_EQ(result->value(), i * 10);
        }
    }
    EXPECT_FALSE(workers.next().has_value());
}

TEST(OrderedWorkers, NoMoreThanTheWindowRunsAheadAndStopStartsNothing) {
    std::vector<int> jobs(100);
    std::atomic<int> started{0};
    {
        OrderedWorkers<int, int> workers(jobs, 2, 3, [&](const int&, unsigned) -> Result<int> {
            ++started;
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_LE(started.load(), 6);  // 2 threads x 3 ahead of the first result taken
        EXPECT_GT(started.load(), 0);
        ASSERT_TRUE(workers.next().has_value());
        workers.stop();
    }
    EXPECT_LE(started.load(), 8);
}

}  // namespace
}  // namespace portcullis::review
