#pragma once
// Recording files of sessions (SPEC §6): one row per recorded channel, with
// the file's size and SHA-256 once it is sealed at close. A recording a crash
// left open keeps no hash (its end time is set at the next start).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

struct RecordingRow {
    std::int64_t id = 0;
    std::string sessionId;
    int channel = 1;
    std::string kind;    // shell, exec
    std::string format;  // cast, rec
    std::string path;    // relative to the state directory ("recordings/ID.cast")
    TimePoint startedAt{};
    std::optional<TimePoint> endedAt;
    std::optional<std::int64_t> size;   // set when sealed
    std::optional<std::string> sha256;  // set when sealed
    bool sealed() const { return sha256.has_value(); }
};

class Recordings {
  public:
    explicit Recordings(Database& db) : db_(db) {}

    // A new, unsealed recording; returns its id.
    std::int64_t add(const RecordingRow& row);
    // Stores size and hash once; returns false if it was sealed already.
    bool seal(std::int64_t id, std::int64_t size, const std::string& sha256, TimePoint endedAt);
    std::vector<RecordingRow> forSession(const std::string& sessionId);
    // Sets the end time of a recording that stays unsealed (found after a
    // crash); returns false if it was sealed or ended already.
    bool markEnded(std::int64_t id, TimePoint endedAt);
    // Unsealed recordings, not yet marked ended, whose session is no longer
    // active (a crash left them).
    std::vector<RecordingRow> unsealedOfEndedSessions();
    // Every recording, oldest session first (verify --all, search).
    std::vector<RecordingRow> all();

  private:
    Database& db_;
};

}  // namespace portcullis::db
