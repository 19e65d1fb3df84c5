#include "review/seal_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.hpp"
#include "recording/display_text.hpp"
#include "recording/file_digest.hpp"
#include "recording/recording_reader.hpp"

namespace portcullis::review {

namespace fs = std::filesystem;

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
    const UniqueFd owned(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (!owned) return makeError(file.string() + ": " + std::strerror(errno));
    const int fd = owned.get();
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
    const std::string where = "session " + recording::displayLine(row.sessionId) + " channel " +
                              std::to_string(row.channel);
    std::string text = "warning: " + where + ": ";
    if (check.unverifiable()) {
        text += "only the start of this recording is vouched for (" +
                recording::displayLine(check.detail) + "); what follows it cannot be verified";
    } else {
        text += "the recording does not match its seal (" + verifyLabel(check.state) +
                (check.detail.empty() ? "" : ": " + recording::displayLine(check.detail)) +
                "); what it shows may not be what was recorded";
    }
    return text + " (see `portcullis session verify " + recording::displayLine(row.sessionId) +
           "`)";
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

Result<nlohmann::json> readRecordingHeader(const fs::path& file) {
    // The reader parses the header first; stopping at the first event keeps it cheap.
    auto summary =
        recording::readRecording(file, [](const recording::RecordingEvent&) { return false; });
    if (!summary) return makeError(file.string() + ": " + summary.error());
    return std::move(summary->header);
}

}  // namespace portcullis::review
