#pragma once
// What a recording says about itself: the header line of both formats
// (asciicast v2 `.cast` and the binary-safe `.rec`, SPEC §6).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace portcullis::recording {

struct RecordingMeta {
    std::string sessionId;
    int channel = 1;  // 1, 2, ... in the order the session opened them
    std::string account;
    std::string login;
    std::string target;
    std::string source;  // client address
    std::optional<std::int64_t> grantId;
    std::string kind;                    // shell, exec
    std::optional<std::string> command;  // exec only
    std::string term;                    // TERM of the pty ("" without one)
    int width = 80;
    int height = 24;
    std::int64_t startedAtUnix = 0;  // whole seconds (asciicast `timestamp`)
    std::string title;               // e.g. "alice@cosigner as root"
};

// The JSON object both formats put on their first line: asciicast v2 fields
// (version 2, width, height, timestamp, env.TERM, title, command) plus a
// `portcullis` object (session, channel, account, login, target, source, grant).
nlohmann::json headerJson(const RecordingMeta& meta);
// The reverse, for readers; missing fields stay at their defaults.
RecordingMeta metaFromHeader(const nlohmann::json& header);

}  // namespace portcullis::recording
