#pragma once
// The recording files of sessions as the review commands (show, play, export,
// search, verify, prune) see them: where a row's file is (never outside the
// state directory), whether it still matches the size and SHA-256 sealed in
// the store, which recording a command works on, and how recorded text is made
// safe to print on a reviewer's terminal.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin_cli/command.hpp"
#include "common/result.hpp"
#include "db/audit.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/state_dir.hpp"

namespace portcullis::cli {

// The session command families beyond list/show/kill, joined by sessionCommands().
std::vector<CommandSpec> sessionPlaybackCommands();   // play, export
std::vector<CommandSpec> sessionSearchCommands();     // search
std::vector<CommandSpec> sessionIntegrityCommands();  // verify, prune
std::vector<CommandSpec> sessionRevealCommands();     // reveal (hidden input)

// The full id of the session `text` names: the id itself, or a unique prefix
// of at least kMinSessionPrefix characters (as git names commits). An
// ambiguous prefix is a UsageError listing the candidates, an unknown id a
// Failure that says how to find one.
inline constexpr std::size_t kMinSessionPrefix = 4;
std::string resolveSessionId(db::Database& db, const std::string& text);
// The session `text` names (resolveSessionId), or a Failure.
db::SessionRecord requireSession(db::Database& db, const std::string& text);
// --channel N: that recording; without it the lowest channel (with a note on
// stderr when the session has more). A Failure when there is none.
db::RecordingRow chooseRecording(const db::SessionRecord& session,
                                 const std::vector<db::RecordingRow>& recordings,
                                 std::optional<int> channel);
// The file of a recording that is about to be read: a safe path to a regular
// file (not a link, FIFO or device), or a Failure saying what is wrong.
std::filesystem::path requireRecordingFile(const db::StateDir& dir, const db::RecordingRow& row);
// --channel's value: a positive number.
std::optional<int> channelOption(const Invocation& inv);

bool isTerminal(int fd);

// "searched 120/3000 sessions" on stderr, rewritten in place at most ten times
// a second, when stderr is a terminal; nothing otherwise.
class Progress {
  public:
    Progress(std::string verb, std::string noun, std::size_t total);
    ~Progress() { clear(); }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void update(std::size_t done);
    // Removes the line (before printing anything else on the terminal).
    void clear();

  private:
    bool enabled_;
    bool shown_ = false;
    std::string verb_;
    std::string noun_;
    std::size_t total_;
    std::chrono::steady_clock::time_point next_{};
};

}  // namespace portcullis::cli
