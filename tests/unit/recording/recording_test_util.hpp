#pragma once
// Helpers shared by the recording/ unit tests.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "recording/recording_meta.hpp"
#include "recording/recording_reader.hpp"

namespace portcullis::recording::testing {

inline RecordingMeta sampleMeta() {
    RecordingMeta meta;
    meta.sessionId = "s-0001";
    meta.channel = 2;
    meta.account = "alice";
    meta.login = "root";
    meta.target = "cosigner";
    meta.source = "192.0.2.7";
    meta.grantId = 42;
    meta.kind = "shell";
    meta.term = "xterm-256color";
    meta.width = 120;
    meta.height = 40;
    meta.startedAtUnix = 1700000000;
    meta.title = "alice@cosigner as root";
    return meta;
}

struct ReadBack {
    ReadSummary summary;
    std::vector<RecordingEvent> events;
};

// Reads a whole recording; fails the test on an error.
inline ReadBack readAll(const std::filesystem::path& path) {
    ReadBack back;
    auto result = readRecording(path, [&](const RecordingEvent& e) {
        back.events.push_back(e);
        return true;
    });
    EXPECT_TRUE(result.ok()) << result.error();
    if (result) back.summary = *result;
    return back;
}

// The data of one asciicast event line (which must be valid JSON).
inline std::string eventData(const std::string& line) {
    EXPECT_FALSE(line.empty());
    if (line.empty()) return {};
    EXPECT_EQ(line.back(), '\n');
    const auto event = nlohmann::json::parse(line);
    EXPECT_TRUE(event.is_array());
    EXPECT_EQ(event.size(), 3u);
    return event.at(2).get<std::string>();
}

inline std::string allBytes() {
    std::string bytes;
    for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
    return bytes;
}

}  // namespace portcullis::recording::testing
