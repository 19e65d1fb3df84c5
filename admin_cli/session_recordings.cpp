#include "admin_cli/session_recordings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <limits>
#include <vector>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "recording/display_text.hpp"
#include "recording/file_digest.hpp"
#include "recording/recording_reader.hpp"
#include "review/seal_check.hpp"

namespace portcullis::cli {

using review::recordingFile;
namespace {

namespace fs = std::filesystem;

std::string channelList(const std::vector<db::RecordingRow>& recordings) {
    std::string out;
    for (const auto& r : recordings) out += (out.empty() ? "" : ", ") + std::to_string(r.channel);
    return out;
}

}  // namespace

std::string resolveSessionId(db::Database& db, const std::string& text) {
    constexpr int kShownCandidates = 10;
    db::Sessions sessions(db);
    if (sessions.find(text)) return text;
    const std::string shown = recording::displayLine(text, 80);
    if (text.empty() || text.size() < kMinSessionPrefix) {
        throw Failure("no session " + shown +
                      " (see `portcullis session list`; a prefix of an id " + "needs at least " +
                      std::to_string(kMinSessionPrefix) + " characters)");
    }
    const auto ids = sessions.idsStartingWith(text, kShownCandidates + 1);
    if (ids.empty()) throw Failure("no session " + shown + " (see `portcullis session list`)");
    if (ids.size() == 1) return ids.front();
    std::string list;
    for (std::size_t i = 0; i < ids.size() && i < kShownCandidates; ++i) {
        list += (list.empty() ? "" : ", ") + recording::displayLine(ids[i]);
    }
    if (ids.size() > kShownCandidates) list += ", ...";
    throw UsageError("session id prefix " + shown + " is ambiguous: " + list +
                     " (give more characters)");
}

db::SessionRecord requireSession(db::Database& db, const std::string& text) {
    const std::string id = resolveSessionId(db, text);
    auto record = db::Sessions(db).find(id);
    if (!record)
        throw Failure("no session " + recording::displayLine(id) +
                      " (see `portcullis session list`)");
    return std::move(*record);
}

db::RecordingRow chooseRecording(const db::SessionRecord& session,
                                 const std::vector<db::RecordingRow>& recordings,
                                 std::optional<int> channel) {
    if (recordings.empty()) {
        throw Failure("session " + session.id +
                      " has no recordings (no channel was opened; `portcullis session show " +
                      session.id + "` tells how it ended)");
    }
    if (channel) {
        for (const auto& r : recordings) {
            if (r.channel == *channel) return r;
        }
        throw Failure("session " + session.id + " has no channel " + std::to_string(*channel) +
                      " (its recordings: channel " + channelList(recordings) + ")");
    }
    if (recordings.size() > 1) {
        std::cerr << "portcullis: session " << session.id << " has " << recordings.size()
                  << " recordings (channel " << channelList(recordings) << "); using channel "
                  << recordings.front().channel << ", choose another with --channel N\n";
    }
    return recordings.front();
}

fs::path requireRecordingFile(const db::StateDir& dir, const db::RecordingRow& row) {
    fs::path file = require(recordingFile(dir, row));
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
        const int error = errno;
        if (error == ENOENT) {
            throw Failure("the recording " + file.string() + " of session " + row.sessionId +
                          " is missing (run `portcullis session verify " + row.sessionId +
                          "`, and restore it from a backup)");
        }
        throw Failure(file.string() + ": " + std::strerror(error));
    }
    if (!S_ISREG(st.st_mode)) {
        throw Failure(file.string() +
                      " is not a regular file (a link or special file put in place of the "
                      "recording); refusing to read it");
    }
    return file;
}

std::optional<int> channelOption(const Invocation& inv) {
    const auto text = inv.option("channel");
    if (!text) return std::nullopt;
    const std::int64_t n = requirePositiveInteger(*text, "--channel");
    if (n > std::numeric_limits<int>::max())
        throw UsageError("--channel: " + *text + " is too big");
    return static_cast<int>(n);
}

bool isTerminal(int fd) {
    return ::isatty(fd) == 1;
}

Progress::Progress(std::string verb, std::string noun, std::size_t total)
    : enabled_(isTerminal(STDERR_FILENO)),
      verb_(std::move(verb)),
      noun_(std::move(noun)),
      total_(total) {}

void Progress::update(std::size_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_ && done < total_) return;
    next_ = now + std::chrono::milliseconds(100);
    std::cerr << '\r' << verb_ << ' ' << done << '/' << total_ << ' ' << noun_ << "\x1b[K"
              << std::flush;
    shown_ = true;
}

void Progress::clear() {
    if (!shown_) return;
    std::cerr << "\r\x1b[K" << std::flush;
    shown_ = false;
    next_ = {};
}

}  // namespace portcullis::cli
