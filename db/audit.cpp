#include "db/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "common/encoding.hpp"
#include "common/unique_fd.hpp"
#include "db/audit_mirror.hpp"
#include "db/state_dir.hpp"

namespace portcullis::db {
namespace {

using json = nlohmann::json;

const std::string kGenesisHash(64, '0');
const json kNoDetails = json::object();

// Keys that name secrets; an event carrying one is a programming error.
constexpr std::array<std::string_view, 7> kSecretKeys = {
    "code", "secret", "password", "recovery_code", "otp", "private_key", "totp_secret"};

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Depth-first search for a secret-like key anywhere in `value`.
const std::string* findSecretKey(const json& value) {
    if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it) {
            const auto key = lowerAscii(it.key());
            if (std::find(kSecretKeys.begin(), kSecretKeys.end(), key) != kSecretKeys.end()) {
                return &it.key();
            }
            if (const auto* inner = findSecretKey(it.value())) return inner;
        }
    } else if (value.is_array()) {
        for (const auto& item : value) {
            if (const auto* inner = findSecretKey(item)) return inner;
        }
    }
    return nullptr;
}

// Text that is valid UTF-8: invalid sequences become U+FFFD, so what is stored,
// hashed and mirrored is one and the same string.
std::string validUtf8(const std::string& text) {
    const auto quoted = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
    return json::parse(quoted).get<std::string>();
}

// Details with every string (keys included) made valid UTF-8.
json sanitize(const json& value) {
    if (value.is_string()) return validUtf8(value.get_ref<const std::string&>());
    if (value.is_array()) {
        json out = json::array();
        for (const auto& item : value) out.push_back(sanitize(item));
        return out;
    }
    if (value.is_object()) {
        json out = json::object();
        for (auto it = value.begin(); it != value.end(); ++it) {
            out[validUtf8(it.key())] = sanitize(it.value());
        }
        return out;
    }
    return value;
}

std::int64_t nowMicros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// "2026-11-25T18:20:06.123456Z"
std::string formatMicros(std::int64_t micros) {
    using namespace std::chrono;
    const sys_time<microseconds> t{microseconds{micros}};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                  static_cast<long long>(hms.subseconds().count()));
    return buf;
}

// The object that is hashed: every field of the row but its own hash.
json canonicalObject(const AuditRecord& r) {
    return json{{"id", r.id},
                {"ts", formatMicros(r.tsMicros)},
                {"type", r.event.type},
                {"actor", r.event.actor},
                {"source", r.event.source},
                {"details", r.event.details},
                {"prev_hash", r.prevHash}};
}

std::string computeHash(const AuditRecord& r) {
    return sha256Hex(canonicalJson(canonicalObject(r)));
}

// Writes all of `data` with as few write() calls as the kernel allows (one,
// normally: O_APPEND keeps concurrent writers' lines whole).
bool writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void appendToFile(const StateDir& dir, const std::string& line) {
    const auto file = dir.auditLog();
    constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    UniqueFd fd(::open(file.c_str(), kFlags));
    if (!fd && errno == ENOENT) {
        UniqueFd created(::open(file.c_str(), kFlags | O_CREAT | O_EXCL, 0600));
        if (created) {
            // A new file takes the state directory's owner, so that every
            // program (root CLI, PAM module, service user) can append.
            (void)dir.adopt(file, 0600);
            writeAll(created.get(), line);
            return;
        }
        fd = UniqueFd(::open(file.c_str(), kFlags));  // lost a creation race
    }
    if (fd) writeAll(fd.get(), line);
}

AuditRecord readRecord(const Statement& st) {
    AuditRecord r;
    r.id = st.int64(0);
    r.tsMicros = st.int64(1);
    r.event.type = st.text(2);
    r.event.actor = st.text(3);
    r.event.source = st.text(4);
    const auto details = st.text(5);
    r.event.details = json::parse(details, nullptr, /*allow_exceptions=*/false);
    // An unreadable details column (an edited row) is kept as its raw text.
    if (r.event.details.is_discarded()) r.event.details = validUtf8(details);
    r.prevHash = st.text(6);
    r.hash = st.text(7);
    return r;
}

constexpr const char* kSelectColumns =
    "SELECT id, ts_us, type, actor, source, details, prev_hash, hash FROM audit_events";

// A read-only snapshot for the duration of a multi-statement read (WAL: does
// not block writers). Rolled back on scope exit.
class ReadSnapshot {
  public:
    explicit ReadSnapshot(Database& db) : db_(db) { db_.exec("BEGIN DEFERRED"); }
    ~ReadSnapshot() { sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr); }
    ReadSnapshot(const ReadSnapshot&) = delete;
    ReadSnapshot& operator=(const ReadSnapshot&) = delete;

  private:
    Database& db_;
};

std::string range(std::int64_t first, std::int64_t last) {
    return first == last ? "event " + std::to_string(first)
                         : "events " + std::to_string(first) + "-" + std::to_string(last);
}

}  // namespace

std::string canonicalJson(const nlohmann::json& value) {
    // nlohmann::json keeps object keys sorted (std::map); no indent means no
    // insignificant whitespace; invalid UTF-8 is replaced, never thrown.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

nlohmann::json AuditRecord::toJson() const {
    auto object = canonicalObject(*this);
    object["hash"] = hash;
    return object;
}

AuditLog::AuditLog(Database& db, const StateDir* mirrorDir, bool syslog)
    : AuditLog(db, mirrorDir, syslog ? std::make_shared<SyslogSink>() : nullptr) {}

AuditLog::AuditLog(Database& db, const StateDir* mirrorDir, std::shared_ptr<SyslogSink> syslog)
    : db_(db), mirrorDir_(mirrorDir), syslog_(std::move(syslog)) {}

std::int64_t AuditLog::record(Transaction& tx, const AuditEvent& event) {
    // `{}` in an aggregate initializer makes a null json: take it as no details.
    const json& details = event.details.is_null() ? kNoDetails : event.details;
    if (!details.is_object()) {
        throw std::invalid_argument("audit event " + event.type +
                                    ": details must be a JSON object");
    }
    if (const auto* key = findSecretKey(details)) {
        throw std::invalid_argument("audit event " + event.type + ": details carry a key named \"" +
                                    *key + "\"; secrets never go into the audit chain");
    }
    if (event.type.empty()) throw std::invalid_argument("audit event without a type");

    AuditRecord r;
    r.tsMicros = nowMicros();
    r.event.type = validUtf8(event.type);
    r.event.actor = validUtf8(event.actor);
    r.event.source = validUtf8(event.source);
    r.event.details = sanitize(details);
    {
        auto last = db_.prepare("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1");
        if (last.step()) {
            r.id = last.int64(0) + 1;
            r.prevHash = last.text(1);
        } else {
            r.id = 1;
            r.prevHash = kGenesisHash;
        }
    }
    r.hash = computeHash(r);

    db_.prepare(
           "INSERT INTO audit_events (id, ts_us, type, actor, source, details, prev_hash, hash) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, r.id)
        .bind(2, r.tsMicros)
        .bind(3, r.event.type)
        .bind(4, r.event.actor)
        .bind(5, r.event.source)
        .bind(6, canonicalJson(r.event.details))
        .bind(7, r.prevHash)
        .bind(8, r.hash)
        .run();

    if (mirrorDir_ || syslog_) {
        auto line = canonicalJson(r.toJson());
        tx.onCommit([dir = mirrorDir_, sink = syslog_, line = std::move(line), r]() noexcept {
            // Mirrors never fail the event: the committed row is the record.
            try {
                if (dir) appendToFile(*dir, line + "\n");
                if (sink) sink->send(r);
            } catch (...) {
            }
        });
    }
    return r.id;
}

std::int64_t AuditLog::record(const AuditEvent& event) {
    Transaction tx(db_);
    const auto id = record(tx, event);
    tx.commit();
    return id;
}

std::vector<AuditRecord> AuditLog::list(const AuditFilter& filter) {
    std::string sql = std::string(kSelectColumns) + " WHERE 1";
    std::optional<std::int64_t> sinceUs;
    if (filter.since) {
        sinceUs =
            std::chrono::duration_cast<std::chrono::microseconds>(filter.since->time_since_epoch())
                .count();
        sql += " AND ts_us >= ?1";
    }
    std::optional<std::string> typeExact, typePrefix;
    if (filter.type) {
        const auto& t = *filter.type;
        if (!t.empty() && t.back() == '*') {
            typePrefix = t.substr(0, t.size() - 1);
        } else if (!t.empty() && t.back() == '.') {
            typePrefix = t;
        } else {
            typeExact = t;
        }
        sql += typePrefix ? " AND substr(type, 1, length(?2)) = ?2" : " AND type = ?2";
    }
    if (filter.user) {
        sql +=
            " AND (actor = ?3 OR CASE WHEN json_valid(details) "
            "THEN json_extract(details, '$.account') END = ?3)";
    }
    if (filter.afterId) sql += " AND id > ?4";
    sql += " ORDER BY id DESC LIMIT ?5";

    auto st = db_.prepare(sql);
    if (sinceUs) st.bind(1, *sinceUs);
    if (typePrefix) st.bind(2, *typePrefix);
    if (typeExact) st.bind(2, *typeExact);
    if (filter.user) st.bind(3, *filter.user);
    if (filter.afterId) st.bind(4, *filter.afterId);
    st.bind(5, static_cast<std::int64_t>(filter.limit > 0 ? filter.limit : -1));

    std::vector<AuditRecord> out;
    while (st.step()) out.push_back(readRecord(st));
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<std::string> AuditLog::types() {
    auto st = db_.prepare("SELECT DISTINCT type FROM audit_events ORDER BY type");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

AuditHead AuditLog::head() {
    auto st = db_.prepare("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1");
    if (st.step()) return {st.int64(0), st.text(1)};
    return {0, kGenesisHash};
}

Result<AuditAnchor> parseAuditAnchor(std::string_view text) {
    const auto bad = [&](const std::string& why) {
        return makeError("bad anchor `" + std::string(text.substr(0, 200)) + "`: " + why +
                         " (give ID:HASH as `portcullis audit head` prints it, e.g. "
                         "1234:9f86d081...)");
    };
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return bad("no ':' between the id and the hash");
    const std::string_view idText = text.substr(0, colon);
    std::string hash(text.substr(colon + 1));
    AuditAnchor anchor;
    const auto* end = idText.data() + idText.size();
    const auto [ptr, ec] = std::from_chars(idText.data(), end, anchor.id);
    if (idText.empty() || ec != std::errc() || ptr != end || anchor.id < 1) {
        return bad("the id must be a positive event number");
    }
    for (auto& c : hash) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return bad("the hash must be 64 hexadecimal digits");
    }
    anchor.hash = std::move(hash);
    return anchor;
}

namespace {

// Lines of events committed within this long before a check may still be on
// their way to audit.log (written right after the commit): waited for while
// audit.log grows, for at most kInFlightWait.
constexpr std::int64_t kInFlightMicros = 10'000'000;
constexpr std::chrono::milliseconds kInFlightWait{2000};
constexpr std::chrono::milliseconds kInFlightPoll{100};
constexpr int kQuietPolls = 3;  // audit.log did not grow for this many polls: nothing is coming

struct Unmirrored {
    std::int64_t id;
    std::int64_t tsMicros;
};

}  // namespace

AuditVerifyReport AuditLog::verify(const std::vector<AuditAnchor>& anchors) {
    AuditVerifyReport report;
    std::set<std::int64_t> flagged;  // ids already reported (keeps the report readable)
    auto problem = [&](std::optional<std::int64_t> id, const std::string& text) {
        if (id) flagged.insert(*id);
        report.problems.push_back({id, text});
    };

    // The mirror is read before the table: every line in it was committed
    // before, so its row must be in the snapshot (or be newer than it).
    std::optional<AuditMirror> mirror;
    if (mirrorDir_) {
        mirror.emplace();
        mirror->read(mirrorDir_->auditLog());
    }
    const bool compare = mirror && !mirror->unreadable() && !mirror->files().empty();
    std::vector<Unmirrored> unmirrored;
    std::vector<bool> anchorSeen(anchors.size(), false);
    auto canonicalLine = [](const AuditRecord& r) { return canonicalJson(r.toJson()); };
    auto compareWithMirror = [&](const AuditRecord& r) {
        auto it = mirror->lines().find(r.id);
        if (it == mirror->lines().end()) {
            unmirrored.push_back({r.id, r.tsMicros});
            return;
        }
        it->second.matched = true;
        if (!flagged.count(r.id) && sha256Hex(canonicalLine(r)) != it->second.sha256) {
            problem(r.id, "event " + std::to_string(r.id) + ": differs from its line in " +
                              it->second.file + " (line " + std::to_string(it->second.lineNo) +
                              "): the row or the line was edited");
        }
    };

    {
        ReadSnapshot snapshot(db_);
        auto ownerOfHash =
            db_.prepare("SELECT id FROM audit_events WHERE hash = ? ORDER BY id LIMIT 1");
        auto ownerOfPrev =
            db_.prepare("SELECT id FROM audit_events WHERE prev_hash = ? ORDER BY id LIMIT 1");
        auto lookup = [](Statement& st, const std::string& hash) -> std::optional<std::int64_t> {
            st.reset();
            st.bind(1, hash);
            std::optional<std::int64_t> id;
            if (st.step()) id = st.int64(0);
            st.reset();
            return id;
        };

        auto rows = db_.prepare(std::string(kSelectColumns) + " ORDER BY id");
        std::int64_t prevId = 0;
        std::string prevHash = kGenesisHash;
        while (rows.step()) {
            AuditRecord r = readRecord(rows);
            ++report.checked;
            const auto id = std::to_string(r.id);

            // The row's own content.
            if (!r.event.details.is_object()) {
                problem(r.id, "event " + id + ": details are not a JSON object (row edited)");
            } else if (computeHash(r) != r.hash) {
                // Is it another event's genuine content moved here?
                bool moved = false;
                std::vector<std::int64_t> candidates;
                if (auto before = lookup(ownerOfHash, r.prevHash))
                    candidates.push_back(*before + 1);
                if (auto after = lookup(ownerOfPrev, r.hash)) candidates.push_back(*after - 1);
                for (const auto candidate : candidates) {
                    if (candidate == r.id) continue;
                    AuditRecord elsewhere = r;
                    elsewhere.id = candidate;
                    if (computeHash(elsewhere) == r.hash) {
                        problem(r.id, "event " + id + ": holds the contents of event " +
                                          std::to_string(candidate) + " (rows reordered)");
                        moved = true;
                        break;
                    }
                }
                if (!moved) problem(r.id, "event " + id + ": hash mismatch (row edited)");
            }

            // Its link to the row before.
            if (r.id != prevId + 1) {
                problem(prevId + 1, range(prevId + 1, r.id - 1) + ": missing (rows deleted)");
                for (auto missing = prevId + 1; missing < r.id; ++missing) flagged.insert(missing);
            }
            if (r.prevHash != prevHash) {
                const auto follows = lookup(ownerOfHash, r.prevHash);
                if (follows && *follows != prevId) {
                    problem(r.id, "event " + id + ": chained after event " +
                                      std::to_string(*follows) + ", not after event " +
                                      std::to_string(prevId) + " (rows reordered)");
                } else if (r.id == prevId + 1) {
                    problem(r.id, "event " + id + ": previous hash does not match " +
                                      (prevId == 0 ? std::string("the start of the chain")
                                                   : "event " + std::to_string(prevId)) +
                                      " (a row before it was deleted or edited)");
                }
            }

            // The anchors kept outside the store.
            for (std::size_t i = 0; i < anchors.size(); ++i) {
                if (anchors[i].id != r.id) continue;
                anchorSeen[i] = true;
                if (anchors[i].hash != r.hash) {
                    problem(r.id, "anchor " + id + ": event " + id + " has hash " + r.hash +
                                      ", the anchor says " + anchors[i].hash +
                                      " (the chain was rewritten)");
                }
            }
            if (compare) compareWithMirror(r);
            prevId = r.id;
            prevHash = r.hash;
        }
    }
    for (std::size_t i = 0; i < anchors.size(); ++i) {
        if (anchorSeen[i]) continue;
        const auto id = std::to_string(anchors[i].id);
        problem(anchors[i].id, "anchor " + id + ": event " + id +
                                   " is not in the store (the chain was cut, or rows deleted)");
    }
    if (!mirror) return report;

    // The mirror: the anchor the table cannot be for itself.
    if (mirror->unreadable()) {
        problem(std::nullopt, "audit.log cannot be read (" + *mirror->unreadable() +
                                  "): the chain cannot be checked against its mirror");
    } else if (!mirror->present() && report.checked > 0) {
        problem(std::nullopt, "audit.log is missing: the store's " +
                                  std::to_string(report.checked) +
                                  " events have no mirror (deleted? restore it from your "
                                  "backup and compare with your SIEM)");
    }
    for (const auto& copy : mirror->unreadableCopies()) {
        problem(std::nullopt, "cannot read the rotated audit log " + copy);
    }
    for (const auto& [id, where] : mirror->duplicates()) {
        problem(id, "event " + std::to_string(id) + ": appears twice in audit.log (" + where + ")");
    }
    if (!compare) return report;

    auto byId = db_.prepare(std::string(kSelectColumns) + " WHERE id = ?");
    auto fetch = [&](std::int64_t id) -> std::optional<AuditRecord> {
        byId.reset();
        byId.bind(1, id);
        if (!byId.step()) return std::nullopt;
        return readRecord(byId);
    };
    // Rows committed just before the snapshot may have their line written a
    // moment later: read what was appended, and wait a little for recent ones.
    auto settle = [&] {
        const bool grew = mirror->readMore();
        std::erase_if(unmirrored, [&](const Unmirrored& u) {
            if (!mirror->lines().count(u.id)) return false;
            if (auto r = fetch(u.id)) compareWithMirror(*r);
            return true;
        });
        return grew;
    };
    settle();
    const auto inFlight = [](const Unmirrored& u) {
        return nowMicros() - u.tsMicros < kInFlightMicros;
    };
    int quiet = 0;
    for (auto waited = std::chrono::milliseconds(0);
         waited < kInFlightWait && quiet < kQuietPolls &&
         std::any_of(unmirrored.begin(), unmirrored.end(), inFlight);
         waited += kInFlightPoll) {
        std::this_thread::sleep_for(kInFlightPoll);
        quiet = settle() ? 0 : quiet + 1;
    }

    // Lines whose row the snapshot did not have: newer, or deleted.
    for (auto& [id, line] : mirror->lines()) {
        if (line.matched) continue;
        line.matched = true;
        if (flagged.count(id)) continue;
        if (auto r = fetch(id)) {
            if (sha256Hex(canonicalLine(*r)) != line.sha256) {
                problem(id, "event " + std::to_string(id) + ": differs from its line in " +
                                line.file + " (line " + std::to_string(line.lineNo) +
                                "): the row or the line was edited");
            }
            continue;
        }
        problem(id, "event " + std::to_string(id) + ": in " + line.file + " (line " +
                        std::to_string(line.lineNo) +
                        ") but missing from the database (row deleted)");
    }

    // Rows without a line: torn lines first, then what nothing explains.
    const auto first = mirror->firstId();
    std::erase_if(unmirrored, [&](const Unmirrored& u) { return first && u.id < *first; });
    std::vector<bool> fragmentUsed(mirror->fragments().size(), false);
    std::int64_t tornLast = 0;
    std::erase_if(unmirrored, [&](const Unmirrored& u) {
        const auto r = fetch(u.id);
        if (!r) return false;
        const std::string line = canonicalLine(*r);
        for (std::size_t i = 0; i < mirror->fragments().size(); ++i) {
            const auto& f = mirror->fragments()[i];
            if (fragmentUsed[i] || f.text.empty() || f.text.size() >= line.size() ||
                !line.starts_with(f.text)) {
                continue;
            }
            fragmentUsed[i] = true;
            tornLast = std::max(tornLast, u.id);
            problem(u.id, "event " + std::to_string(u.id) + ": its line in " + f.file + " (line " +
                              std::to_string(f.lineNo) +
                              ") is incomplete, a write cut short by a crash or a full disk "
                              "(the row itself is in the store)");
            return true;
        }
        return false;
    });
    for (std::size_t i = 0; i < unmirrored.size();) {
        std::size_t j = i;
        while (j + 1 < unmirrored.size() && unmirrored[j + 1].id == unmirrored[j].id + 1) ++j;
        problem(unmirrored[i].id,
                range(unmirrored[i].id, unmirrored[j].id) +
                    ": in the database but not in audit.log (added to the store, or audit.log "
                    "was cut or rotated away)");
        i = j + 1;
    }
    for (std::size_t i = 0; i < mirror->fragments().size(); ++i) {
        if (fragmentUsed[i]) continue;
        const auto& f = mirror->fragments()[i];
        problem(std::nullopt, f.file + " line " + std::to_string(f.lineNo) +
                                  (f.atEndOfFile ? ": an incomplete last line that matches no event"
                                                 : ": not an audit event") +
                                  " (garbled or edited)");
    }

    // The two ends of the chain.
    const std::int64_t storeLast = head().id;
    const std::int64_t mirrorLast = std::max(mirror->lastId().value_or(0), tornLast);
    if (storeLast != mirrorLast) {
        problem(std::nullopt, "the last event differs: the database ends at event " +
                                  std::to_string(storeLast) + ", audit.log at event " +
                                  std::to_string(mirrorLast));
    }
    report.mirrorFiles = mirror->files();
    report.mirrorFirst = mirror->firstId();
    report.mirrorLast = mirror->lastId();
    return report;
}

}  // namespace portcullis::db
