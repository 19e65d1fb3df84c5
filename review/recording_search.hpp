#pragma once
// A regular expression over one recording: what the session showed, matched
// line by line as the screen showed it (escape sequences interpreted, colours
// gone), and what its user typed, as the lines typed (editing keys applied;
// review/typed_lines.hpp). The recording is streamed one event at a time, so
// memory stays bounded whatever its size. `session search` runs this over many
// recordings on a few threads (review/ordered_workers.hpp).
#include <regex.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "db/recordings.hpp"
#include "review/seal_check.hpp"
#include "review/typed_lines.hpp"

namespace portcullis::review {

// Lines are matched whole but kept (shown, in JSON) up to this many bytes.
inline constexpr std::size_t kMaxKeptLine = 4096;

// A POSIX extended regular expression (as grep -E), compiled once. glibc
// serialises regexec() on one compiled pattern: a thread wants its own.
class Regex {
  public:
    // An error names the pattern and what is wrong with it.
    static Result<std::unique_ptr<Regex>> compile(const std::string& pattern, bool ignoreCase);
    struct Compiled {};  // only compile() makes one
    explicit Regex(Compiled) {}
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    bool matches(const std::string& line) const;

  private:
    regex_t regex_{};
    bool compiled_ = false;
};

struct Match {
    int channel = 1;
    std::int64_t elapsedUs = 0;
    std::string stream;  // input, output, stderr
    std::string line;
    bool approximate = false;  // a typed line that was not echoed, or recalled history
    std::vector<std::string> before;
    std::vector<std::string> after;
};

// Counts matches against a limit across everything searched.
struct Budget {
    std::int64_t limit = 1000;
    std::int64_t found = 0;
    bool full() const { return found >= limit; }
};

struct Searched {
    SealCheck seal;  // set by the caller, who checks it before the recording is read
    std::vector<Match> matches;
    std::int64_t startedAtUnix = 0;  // the header's timestamp
    bool carriesSftp = false;        // an exec channel whose input is an SFTP session
};

// One recording, streamed: its matches in time order, each with up to
// `context` lines before and after. Stops reading once `budget` is full and
// every match has its after-context.
Result<Searched> searchRecording(const std::filesystem::path& file, const db::RecordingRow& row,
                                 const Regex& regex, std::size_t context, Budget& budget);

}  // namespace portcullis::review
