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

namespace portcullis::cli {
namespace {

namespace fs = std::filesystem;

std::string channelList(const std::vector<db::RecordingRow>& recordings) {
    std::string out;
    for (const auto& r : recordings) out += (out.empty() ? "" : ", ") + std::to_string(r.channel);
    return out;
}

// Length of the valid UTF-8 character at text[i] (1-4), or 0 when the bytes
// there are not one (a stray continuation byte, an overlong form, a cut-off end).
std::size_t utf8Length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;   // overlong
        if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;   // overlong
        if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
    } else {
        return 0;
    }
    if (i + length > text.size()) return 0;
    if (byte(i + 1) < low || byte(i + 1) > high) return 0;
    for (std::size_t k = 2; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    return length;
}

}  // namespace

Result<fs::path> recordingFile(const db::StateDir& dir, const db::RecordingRow& row) {
    const auto refuse = [&](const std::string& why) {
        return makeError("recording of session " + row.sessionId + " channel " +
                         std::to_string(row.channel) + ": the stored path `" + row.path + "` " +
                         why +
                         "; refusing to use it (the store may have been tampered with: run "
                         "`portcullis audit verify`)");
    };
    if (row.path.empty()) return refuse("is empty");
    if (row.path.find('\0') != std::string::npos) return refuse("contains a NUL byte");
    const fs::path relative(row.path);
    if (relative.is_absolute() || relative.has_root_name()) return refuse("is absolute");
    std::vector<std::string> parts;
    for (const auto& part : relative) {
        const std::string text = part.string();
        if (text.empty() || text == "." || text == "..") {
            return refuse("has an empty, `.` or `..` part");
        }
        parts.push_back(text);
    }
    if (parts.size() < 2 || parts.front() != "recordings") {
        return refuse("is not under recordings/");
    }
    return dir.root() / relative;
}

AuditedSeals AuditedSeals::load(db::AuditLog& audit, const std::optional<std::string>& sessionId) {
    AuditedSeals seals;
    const auto recordingOf =
        [&](const nlohmann::json& d) -> std::optional<std::pair<std::string, int>> {
        if (!d.is_object() || !d.contains("session_id") || !d["session_id"].is_string() ||
            !d.contains("channel") || !d["channel"].is_number_integer()) {
            return std::nullopt;
        }
        auto session = d["session_id"].get<std::string>();
        if (sessionId && session != *sessionId) return std::nullopt;
        return std::pair{std::move(session), d["channel"].get<int>()};
    };
    const auto remember = [&](const db::AuditRecord& r, const std::pair<std::string, int>& key) {
        const auto& d = r.event.details;
        const std::string path =
            d.contains("path") && d["path"].is_string() ? d["path"].get<std::string>() : "";
        auto [it, inserted] = seals.known_.try_emplace(key, Known{r.id, r.event.type, path});
        if (!inserted && it->second.path.empty()) it->second.path = path;
    };
    for (const char* type : {"session.recording", "recording.checkpoint"}) {
        db::AuditFilter filter;
        filter.type = type;
        filter.limit = std::numeric_limits<int>::max();
        const bool checkpoint = std::string_view(type) == "recording.checkpoint";
        for (const auto& r : audit.list(filter)) {
            const auto& d = r.event.details;
            const auto key = recordingOf(d);
            if (!key) continue;
            remember(r, *key);
            if (!d.contains("sha256") || !d["sha256"].is_string()) continue;  // failed or empty
            const auto sha256 = d["sha256"].get<std::string>();
            if (!checkpoint) {
                seals.seals_[*key] = {r.id, sha256};
                continue;
            }
            if (!d.contains("size") || !d["size"].is_number_integer() ||
                d["size"].get<std::int64_t>() < 0) {
                continue;
            }
            const auto size = d["size"].get<std::uint64_t>();
            auto [it, inserted] =
                seals.checkpoints_.try_emplace(*key, Checkpoint{r.id, size, sha256});
            if (!inserted && size >= it->second.size) it->second = {r.id, size, sha256};
        }
    }
    return seals;
}

const AuditedSeals::Seal* AuditedSeals::find(const std::string& sessionId, int channel) const {
    const auto it = seals_.find({sessionId, channel});
    return it == seals_.end() ? nullptr : &it->second;
}

const AuditedSeals::Checkpoint* AuditedSeals::lastCheckpoint(const std::string& sessionId,
                                                             int channel) const {
    const auto it = checkpoints_.find({sessionId, channel});
    return it == checkpoints_.end() ? nullptr : &it->second;
}

namespace {

// Size and SHA-256 of a file, and of its first `prefix` bytes when it has that many.
struct PrefixDigest {
    std::uint64_t size = 0;
    std::string sha256;
    std::optional<std::string> prefixSha256;
};

Result<PrefixDigest> digestWithPrefix(const fs::path& file, std::optional<std::uint64_t> prefix) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) return makeError(file.string() + ": " + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    recording::Sha256Stream whole;
    std::optional<recording::Sha256Stream> head;
    if (prefix) head.emplace();
    PrefixDigest out;
    std::vector<char> buf(1 << 20);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return makeError(file.string() + ": " + std::strerror(errno));
        if (n == 0) break;
        const std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
        whole.update(chunk);
        if (head && out.size < *prefix) {
            head->update(chunk.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(
                                             chunk.size(), *prefix - out.size))));
        }
        out.size += chunk.size();
    }
    out.sha256 = whole.finishHex();
    if (head && out.size >= *prefix) out.prefixSha256 = head->finishHex();
    return out;
}

// A file checked against its last checkpoint: nullopt when its first bytes match.
std::optional<SealCheck> againstCheckpoint(const AuditedSeals::Checkpoint& cp,
                                           const PrefixDigest& digest) {
    const std::string event = "recording.checkpoint event " + std::to_string(cp.eventId);
    SealCheck check;
    check.actualSize = digest.size;
    check.actualSha256 = digest.sha256;
    if (digest.size < cp.size) {
        check.state = SealState::truncated;
        check.detail = std::to_string(digest.size) + " bytes, shorter than its last checkpoint (" +
                       event + ": " + std::to_string(cp.size) + " bytes)";
        return check;
    }
    if (digest.prefixSha256 != cp.sha256) {
        check.state = SealState::modified;
        check.detail = "the first " + std::to_string(cp.size) +
                       " bytes differ from its last checkpoint (" + event + ": sha256 " +
                       cp.sha256 + ")";
        return check;
    }
    return std::nullopt;
}

}  // namespace

SealCheck checkSeal(const db::StateDir& dir, const db::RecordingRow& row, bool sessionActive,
                    const AuditedSeals& audited) {
    SealCheck check;
    const auto file = recordingFile(dir, row);
    if (!file) {
        check.state = SealState::unsafePath;
        check.detail = file.error();
        return check;
    }
    struct stat st {};
    if (::lstat(file->c_str(), &st) != 0) {
        const int error = errno;
        // portcullisd seals a channel whose file was never created with size 0 and no hash.
        if (error == ENOENT && row.sealed() && row.sha256->empty()) {
            check.state = SealState::notRecorded;
            check.detail =
                "nothing was recorded on this channel (see the session's "
                "recording.failed or session.recording audit events)";
            return check;
        }
        check.state = error == ENOENT ? SealState::missing : SealState::unreadable;
        check.detail = error == ENOENT ? "no file " + file->string()
                                       : file->string() + ": " + std::strerror(error);
        return check;
    }
    // Not following links nor opening FIFOs: a regular file or nothing.
    if (!S_ISREG(st.st_mode)) {
        check.state = SealState::unreadable;
        check.detail = file->string() + " is not a regular file";
        return check;
    }
    check.actualSize = static_cast<std::uint64_t>(st.st_size);
    const auto* checkpoint = audited.lastCheckpoint(row.sessionId, row.channel);
    const bool hasSeal = row.sealed() && !row.sha256->empty();
    const bool stillWritten = !row.sealed() && sessionActive;
    if (stillWritten && !checkpoint) {
        check.state = SealState::activeUnsealed;
        check.detail = "still being written (" + std::to_string(st.st_size) + " bytes so far)";
        return check;
    }

    const auto digest =
        digestWithPrefix(*file, checkpoint ? std::optional(checkpoint->size) : std::nullopt);
    if (!digest) {
        check.state = SealState::unreadable;
        check.detail = digest.error();
        return check;
    }
    check.actualSize = digest->size;
    check.actualSha256 = digest->sha256;

    if (!hasSeal) {
        if (checkpoint) {
            if (auto mismatch = againstCheckpoint(*checkpoint, *digest)) return *mismatch;
        }
        if (stillWritten) {
            check.state = SealState::activeUnsealed;
            check.detail = "still being written (" + std::to_string(digest->size) +
                           " bytes so far; the first " + std::to_string(checkpoint->size) +
                           " match its last checkpoint)";
            return check;
        }
        if (!checkpoint) {
            check.state = SealState::unsealed;
            check.detail = row.sealed()
                               ? "sealed without a hash and never checkpointed: nothing vouches "
                                 "for this file"
                               : "no seal and no checkpoint (the session ended without sealing "
                                 "its recording): nothing vouches for this file";
            return check;
        }
        check.state = SealState::unverifiableTail;
        check.detail = "not sealed; the first " + std::to_string(checkpoint->size) +
                       " bytes match its last checkpoint (recording.checkpoint event " +
                       std::to_string(checkpoint->eventId) +
                       "); unverifiable tail: " + std::to_string(digest->size - checkpoint->size) +
                       " bytes after the last checkpoint";
        return check;
    }

    const bool sizeMatches = !row.size || static_cast<std::uint64_t>(*row.size) == digest->size;
    if (sizeMatches && digest->sha256 == *row.sha256) {
        const auto* seal = audited.find(row.sessionId, row.channel);
        if (seal && seal->sha256 != *row.sha256) {
            check.state = SealState::auditMismatch;
            check.detail = "the file matches the store's sha256 " + *row.sha256 +
                           ", but audit event " + std::to_string(seal->eventId) + " sealed it as " +
                           seal->sha256 + " (the file and its row were both changed)";
            return check;
        }
        // The checkpoints vouch for the start of the file too.
        if (checkpoint) {
            if (auto mismatch = againstCheckpoint(*checkpoint, *digest)) {
                mismatch->state = SealState::auditMismatch;
                mismatch->detail = "matches the store's seal, but " + mismatch->detail +
                                   " (the file and its row were both changed)";
                return *mismatch;
            }
        }
        check.state = SealState::intact;
        return check;
    }
    if (row.size && digest->size < static_cast<std::uint64_t>(*row.size)) {
        check.state = SealState::truncated;
        check.detail =
            std::to_string(digest->size) + " bytes, sealed with " + std::to_string(*row.size);
        return check;
    }
    check.state = SealState::modified;
    check.detail = "sha256 " + digest->sha256 + ", sealed with " + *row.sha256;
    if (!sizeMatches) {
        check.detail = std::to_string(digest->size) + " bytes, sealed with " +
                       std::to_string(*row.size) + "; " + check.detail;
    }
    return check;
}

std::string sealWarning(const db::RecordingRow& row, const SealCheck& check) {
    if (!check.problem() && !check.unverifiable()) return "";
    const std::string where =
        "session " + printableLine(row.sessionId) + " channel " + std::to_string(row.channel);
    std::string text = "warning: " + where + ": ";
    if (check.unverifiable()) {
        text += "only the start of this recording is vouched for (" + printableLine(check.detail) +
                "); what follows it cannot be verified";
    } else {
        text += "the recording does not match its seal (" + verifyLabel(check.state) +
                (check.detail.empty() ? "" : ": " + printableLine(check.detail)) +
                "); what it shows may not be what was recorded";
    }
    return text + " (see `portcullis session verify " + printableLine(row.sessionId) + "`)";
}

std::string showLabel(SealState state) {
    switch (state) {
        case SealState::intact:
            return "intact";
        case SealState::modified:
            return "MODIFIED";
        case SealState::truncated:
            return "TRUNCATED";
        case SealState::missing:
            return "missing";
        case SealState::activeUnsealed:
            return "not sealed (session active)";
        case SealState::unsealed:
            return "not sealed";
        case SealState::unsafePath:
            return "REFUSED PATH";
        case SealState::unreadable:
            return "unreadable";
        case SealState::notRecorded:
            return "nothing recorded";
        case SealState::auditMismatch:
            return "SEAL MISMATCH";
        case SealState::unverifiableTail:
            return "UNVERIFIABLE TAIL";
    }
    return "unknown";
}

std::string verifyLabel(SealState state) {
    switch (state) {
        case SealState::intact:
            return "ok";
        case SealState::modified:
            return "modified";
        case SealState::truncated:
            return "truncated";
        case SealState::missing:
            return "missing file";
        case SealState::activeUnsealed:
            return "not sealed (session active)";
        case SealState::unsealed:
            return "not sealed";
        case SealState::unsafePath:
            return "refused path";
        case SealState::unreadable:
            return "unreadable";
        case SealState::notRecorded:
            return "nothing recorded";
        case SealState::auditMismatch:
            return "seal differs from audit";
        case SealState::unverifiableTail:
            return "unverifiable tail";
    }
    return "unknown";
}

std::string stateCode(SealState state) {
    switch (state) {
        case SealState::intact:
            return "intact";
        case SealState::modified:
            return "modified";
        case SealState::truncated:
            return "truncated";
        case SealState::missing:
            return "missing";
        case SealState::activeUnsealed:
            return "active";
        case SealState::unsealed:
            return "unsealed";
        case SealState::unsafePath:
            return "refused_path";
        case SealState::unreadable:
            return "unreadable";
        case SealState::notRecorded:
            return "not_recorded";
        case SealState::auditMismatch:
            return "audit_mismatch";
        case SealState::unverifiableTail:
            return "unverifiable_tail";
    }
    return "unknown";
}

std::string resolveSessionId(db::Database& db, const std::string& text) {
    constexpr int kShownCandidates = 10;
    db::Sessions sessions(db);
    if (sessions.find(text)) return text;
    const std::string shown = printableLine(text, 80);
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
        list += (list.empty() ? "" : ", ") + printableLine(ids[i]);
    }
    if (ids.size() > kShownCandidates) list += ", ...";
    throw UsageError("session id prefix " + shown + " is ambiguous: " + list +
                     " (give more characters)");
}

db::SessionRecord requireSession(db::Database& db, const std::string& text) {
    const std::string id = resolveSessionId(db, text);
    auto record = db::Sessions(db).find(id);
    if (!record)
        throw Failure("no session " + printableLine(id) + " (see `portcullis session list`)");
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

Result<nlohmann::json> readRecordingHeader(const fs::path& file) {
    // The reader parses the header first; stopping at the first event keeps it cheap.
    auto summary =
        recording::readRecording(file, [](const recording::RecordingEvent&) { return false; });
    if (!summary) return makeError(file.string() + ": " + summary.error());
    return std::move(summary->header);
}

std::string printableLine(std::string_view line, std::size_t maxBytes) {
    // Cut first (on a character boundary), then escape: the escapes of what is
    // shown are never cut in half.
    std::size_t end = line.size();
    bool cut = false;
    if (end > maxBytes) {
        end = 0;
        while (end < line.size()) {
            const std::size_t length = std::max<std::size_t>(utf8Length(line, end), 1);
            if (end + length > maxBytes) break;
            end += length;
        }
        cut = true;
    }
    std::string out = recording::displayText(line.substr(0, end));
    if (cut) out += "...";
    return out;
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
