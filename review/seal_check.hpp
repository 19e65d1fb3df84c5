#pragma once
// A session's recording files as a review sees them (SPEC §6): where a row's
// file is (never outside the state directory) and whether it still matches the
// size and SHA-256 sealed in the store and in the audit chain. Used by every
// command that reads a recording (show, play, export, search, verify, prune),
// and by anything else that will show one (a web replay): results, no printing.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "db/audit.hpp"
#include "db/recordings.hpp"
#include "db/state_dir.hpp"

namespace portcullis::review {

// The file of a recording row. The stored path must be relative, under
// recordings/, without "." or ".." parts: a row edited to point elsewhere
// ("../master.key", "/etc/shadow") is refused, never read or deleted.
Result<std::filesystem::path> recordingFile(const db::StateDir& dir, const db::RecordingRow& row);

// A recording against its seal (SPEC §6).
enum class SealState {
    intact,          // size and SHA-256 as sealed
    modified,        // same size or larger, other hash
    truncated,       // smaller than sealed
    missing,         // no file
    activeUnsealed,  // not sealed yet: the session is still running
    unsealed,        // not sealed although the session ended (a crash the gateway has not sealed)
    unsafePath,      // the stored path leaves the recordings directory
    unreadable,      // exists but cannot be read (permissions, not a regular file)
    notRecorded,     // sealed empty and no file: nothing passed, or recording failed (audited)
    auditMismatch,   // the store's seal differs from the one in the audit chain
    // Not sealed (the gateway crashed), its first bytes match the last
    // recording.checkpoint, and what follows cannot be verified (exit 3).
    unverifiableTail,
};

struct SealCheck {
    SealState state = SealState::missing;
    std::optional<std::uint64_t> actualSize;
    std::string actualSha256;
    std::string detail;  // one line for a person: what differs, or why it could not be read
    // Everything but intact, a running session's open file, an empty channel
    // and an unverifiable tail (exit 1 for `session verify`).
    bool problem() const {
        return state != SealState::intact && state != SealState::activeUnsealed &&
               state != SealState::notRecorded && state != SealState::unverifiableTail;
    }
    // Intact up to its last checkpoint, the rest unverifiable (exit 3).
    bool unverifiable() const { return state == SealState::unverifiableTail; }
};

// The seals portcullisd also wrote to the audit chain (session.recording
// events), so that a file edited together with its row in the store is still
// caught, and the checkpoints it wrote while the file grew
// (recording.checkpoint: size and SHA-256 of the first `size` bytes), which
// vouch for a file a crash left unsealed up to that size. The chain itself is
// checked by `audit verify`.
class AuditedSeals {
  public:
    struct Seal {
        std::int64_t eventId = 0;
        std::string sha256;
    };
    struct Checkpoint {
        std::int64_t eventId = 0;
        std::uint64_t size = 0;
        std::string sha256;
    };
    // What the chain knows of a recording, for `session verify --all`.
    struct Known {
        std::int64_t eventId = 0;  // the first event that names it
        std::string type;
        std::string path;  // "recordings/NAME" when an event gave it
    };
    // All of them, or only those of one session.
    static AuditedSeals load(db::AuditLog& audit, const std::optional<std::string>& sessionId);
    const Seal* find(const std::string& sessionId, int channel) const;
    // The last checkpoint (the largest size) of a recording.
    const Checkpoint* lastCheckpoint(const std::string& sessionId, int channel) const;
    const std::map<std::pair<std::string, int>, Known>& knownRecordings() const { return known_; }

  private:
    std::map<std::pair<std::string, int>, Seal> seals_;
    std::map<std::pair<std::string, int>, Checkpoint> checkpoints_;
    std::map<std::pair<std::string, int>, Known> known_;
};

// Recomputes the file's size and SHA-256 (streamed) and compares them with the
// seal in the store, and that seal with the audited one when there is one;
// the first bytes with the last checkpoint when there is one. Without a seal
// (a crash): a mismatch or a file shorter than its last checkpoint is a
// problem, a match is unverifiableTail, no checkpoint at all is unsealed.
SealCheck checkSeal(const db::StateDir& dir, const db::RecordingRow& row, bool sessionActive,
                    const AuditedSeals& audited);
// What `play`, `export` and `search` print on stderr before reading a
// recording whose seal does not match, or that only matches up to its last
// checkpoint (issue 13: a review never shows a tampered recording as if it
// were the real one): "warning: session ID channel N ...". Empty when the
// recording matches, is still being written or recorded nothing.
std::string sealWarning(const db::RecordingRow& row, const SealCheck& check);
// As `session show` prints it: "intact", "MODIFIED", "TRUNCATED", "missing", ...
std::string showLabel(SealState state);
// As `session verify` prints it: "ok", "modified", "truncated", "missing file", ...
std::string verifyLabel(SealState state);
// The --json value: "intact", "modified", "truncated", "missing", "active", "unsealed", ...
std::string stateCode(SealState state);

// The header line of a recording (either format) without reading its events.
Result<nlohmann::json> readRecordingHeader(const std::filesystem::path& file);

}  // namespace portcullis::review
