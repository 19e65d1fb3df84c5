#include "db/audit_mirror.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "common/unique_fd.hpp"

namespace portcullis::db {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Every line the audit writer produces starts so (canonical JSON, keys sorted).
constexpr std::string_view kLineStart = R"({"actor":)";
constexpr std::array<std::string_view, 6> kCompressed = {".gz",  ".bz2", ".xz",
                                                         ".zst", ".lz4", ".Z"};

// A rotated copy of audit.log that can be read as it is.
bool isRotatedCopy(const std::string& name) {
    if (!name.starts_with("audit.log.") && !name.starts_with("audit.log-")) return false;
    return std::none_of(kCompressed.begin(), kCompressed.end(),
                        [&](std::string_view suffix) { return name.ends_with(suffix); });
}

// The id of a complete event line, if it is one.
std::optional<std::int64_t> eventId(std::string_view line) {
    const auto entry = json::parse(line, nullptr, false);
    if (!entry.is_object()) return std::nullopt;
    const auto id = entry.find("id");
    const auto hash = entry.find("hash");
    if (id == entry.end() || !id->is_number_integer() || hash == entry.end() ||
        !hash->is_string()) {
        return std::nullopt;
    }
    return id->get<std::int64_t>();
}

}  // namespace

void AuditMirror::read(const fs::path& auditLog) {
    auditLog_ = auditLog;
    std::error_code ec;
    std::vector<std::string> rotated;
    for (const auto& entry : fs::directory_iterator(auditLog.parent_path(), ec)) {
        const std::string name = entry.path().filename().string();
        std::error_code typeError;
        if (isRotatedCopy(name) && entry.is_regular_file(typeError)) rotated.push_back(name);
    }
    std::sort(rotated.begin(), rotated.end());
    for (const auto& name : rotated) readFile(auditLog.parent_path() / name, 0, 1);

    struct stat st {};
    if (::lstat(auditLog.c_str(), &st) != 0) {
        if (errno != ENOENT) unreadable_ = std::string(std::strerror(errno));
        return;
    }
    present_ = true;
    if (!S_ISREG(st.st_mode)) {
        unreadable_ = "not a regular file";
        return;
    }
    inode_ = st.st_ino;
    readFile(auditLog, 0, 1);
}

bool AuditMirror::readMore() {
    if (!present_ || unreadable_) return false;
    struct stat st {};
    if (::lstat(auditLog_.c_str(), &st) != 0 || st.st_ino != inode_ || st.st_size <= readBytes_) {
        return false;
    }
    // A fragment at the old end of file may have been a line still being written.
    std::erase_if(fragments_, [&](const MirrorFragment& f) {
        return f.atEndOfFile && f.file == auditLog_.filename().string();
    });
    const auto before = readBytes_;
    readFile(auditLog_, readBytes_, readLines_ + 1);
    return readBytes_ != before || st.st_size != before;
}

void AuditMirror::readFile(const fs::path& file, off_t from, std::size_t firstLineNo) {
    const std::string name = file.filename().string();
    const bool isAuditLog = file == auditLog_;
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (fd.get() < 0) {
        const std::string why = std::strerror(errno);
        if (isAuditLog) {
            unreadable_ = why;
        } else {
            unreadableCopies_.push_back(name + ": " + why);
        }
        return;
    }
    if (from > 0 && ::lseek(fd.get(), from, SEEK_SET) != from) return;
    if (std::find(files_.begin(), files_.end(), name) == files_.end()) files_.push_back(name);

    std::string pending;
    std::size_t lineNo = firstLineNo;
    off_t consumed = from;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string why = std::strerror(errno);
            if (isAuditLog) {
                unreadable_ = why;
            } else {
                unreadableCopies_.push_back(name + ": " + why);
            }
            return;
        }
        if (n == 0) break;
        std::string_view chunk(buf, static_cast<std::size_t>(n));
        while (!chunk.empty()) {
            const auto newline = chunk.find('\n');
            if (newline == std::string_view::npos) {
                pending.append(chunk);
                break;
            }
            pending.append(chunk.substr(0, newline));
            chunk.remove_prefix(newline + 1);
            consumed += static_cast<off_t>(pending.size() + 1);
            addLine(name, lineNo++, pending, false);
            pending.clear();
        }
    }
    if (!pending.empty()) addLine(name, lineNo, pending, true);
    if (isAuditLog) {
        // Up to the last newline: readMore() starts again at an incomplete line.
        readBytes_ = consumed;
        readLines_ = lineNo - 1;
    }
}

void AuditMirror::addLine(const std::string& file, std::size_t lineNo, const std::string& line,
                          bool atEndOfFile) {
    std::string_view text = line;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) {
        fragments_.push_back({file, lineNo, "", atEndOfFile});
        return;
    }
    auto id = eventId(text);
    if (!id) {
        // A torn line with the next event's line glued to it: split at the
        // last place an event line starts, if what follows is a whole event.
        const auto start = text.rfind(kLineStart);
        if (start != std::string_view::npos && start > 0) {
            if (const auto glued = eventId(text.substr(start))) {
                fragments_.push_back({file, lineNo,
                                      std::string(text.substr(0, std::min(start, kMaxFragment))),
                                      false});
                text.remove_prefix(start);
                id = glued;
            }
        }
    }
    if (!id) {
        fragments_.push_back(
            {file, lineNo, std::string(text.substr(0, kMaxFragment)), atEndOfFile});
        return;
    }
    const std::string where = file + " line " + std::to_string(lineNo);
    const auto [it, inserted] = lines_.try_emplace(*id, MirrorLine{file, lineNo, sha256Hex(text)});
    if (!inserted) {
        duplicates_.emplace_back(
            *id, it->second.file + " line " + std::to_string(it->second.lineNo) + " and " + where);
    }
}

std::optional<std::int64_t> AuditMirror::firstId() const {
    if (lines_.empty()) return std::nullopt;
    return lines_.begin()->first;
}

std::optional<std::int64_t> AuditMirror::lastId() const {
    if (lines_.empty()) return std::nullopt;
    return lines_.rbegin()->first;
}

}  // namespace portcullis::db
