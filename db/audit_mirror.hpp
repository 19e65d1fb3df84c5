#pragma once
// The audit chain's mirror as `audit verify` reads it (SPEC §7, §15): audit.log
// and the uncompressed copies a log rotation left beside it (audit.log.1,
// audit.log-20261125, ...). Each line is one event's canonical JSON; what is
// kept of it is its id, where it is, and the SHA-256 of the whole line, so
// that a chain of millions of events is checked in bounded memory.
//
// Lines that do not parse are kept aside as fragments: a write cut short by a
// crash or a full disk leaves the start of a line (the last line of the file,
// or glued to the start of the next line written); AuditLog::verify tells
// such a torn line (a prefix of an event that the store holds and the mirror
// lacks) from a garbled one, and reports both.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::db {

struct MirrorLine {
    std::string file;  // file name in the state directory
    std::size_t lineNo = 0;
    std::string sha256;    // of the line, newline excluded
    bool matched = false;  // its row was found (AuditLog::verify)
};

struct MirrorFragment {
    std::string file;
    std::size_t lineNo = 0;
    std::string text;          // at most kMaxFragment bytes of it
    bool atEndOfFile = false;  // the file's last line, without its newline
};

class AuditMirror {
  public:
    static constexpr std::size_t kMaxFragment = 1 << 20;

    // Reads audit.log and its rotated copies in `root` (`auditLog` is the
    // path of audit.log itself).
    void read(const std::filesystem::path& auditLog);
    // What was appended to audit.log since read() or the last readMore();
    // false when nothing was.
    bool readMore();

    bool present() const { return present_; }
    // Why audit.log itself could not be read; and the rotated copies that could not.
    const std::optional<std::string>& unreadable() const { return unreadable_; }
    const std::vector<std::string>& unreadableCopies() const { return unreadableCopies_; }
    const std::vector<std::string>& files() const { return files_; }
    // Every event line by id (the first one seen when an id appears twice).
    std::map<std::int64_t, MirrorLine>& lines() { return lines_; }
    const std::vector<MirrorFragment>& fragments() const { return fragments_; }
    // "event 7 appears twice in audit.log (lines 7 and 9)".
    const std::vector<std::pair<std::int64_t, std::string>>& duplicates() const {
        return duplicates_;
    }
    std::optional<std::int64_t> firstId() const;
    std::optional<std::int64_t> lastId() const;

  private:
    void readFile(const std::filesystem::path& file, off_t from, std::size_t firstLineNo);
    void addLine(const std::string& file, std::size_t lineNo, const std::string& line,
                 bool atEndOfFile);

    std::filesystem::path auditLog_;
    bool present_ = false;
    std::optional<std::string> unreadable_;
    std::vector<std::string> unreadableCopies_;
    std::vector<std::string> files_;
    std::map<std::int64_t, MirrorLine> lines_;
    std::vector<MirrorFragment> fragments_;
    std::vector<std::pair<std::int64_t, std::string>> duplicates_;
    // How far audit.log was read (for readMore): bytes up to its last newline,
    // complete lines, and which file it was (a rotation replaces it).
    off_t readBytes_ = 0;
    std::size_t readLines_ = 0;
    ino_t inode_ = 0;
};

}  // namespace portcullis::db
