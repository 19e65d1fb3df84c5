// portcullis session verify / prune: recordings checked against the size and
// SHA-256 sealed when they were closed, and old sessions deleted with their
// recordings (audited as session.pruned).
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <set>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "review/seal_check.hpp"

namespace portcullis::cli {

using review::AuditedSeals;
using review::checkSeal;
using review::recordingFile;
using review::SealCheck;
using review::stateCode;
using review::verifyLabel;
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- verify -----------------------------------------------------------------

// `session verify` exits 3 when nothing is wrong but some recording could only
// be verified up to its last checkpoint (SPEC §15).
constexpr int kExitUnverifiable = 3;

void verifyOptions(cxxopts::Options& o) {
    o.add_options()("all", "every recording in the store, and those the audit chain knows");
}

std::set<std::string> activeSessionIds(db::Database& db) {
    db::SessionFilter filter;
    filter.activeOnly = true;
    filter.limit = std::numeric_limits<int>::max();
    std::set<std::string> ids;
    for (const auto& s : db::Sessions(db).list(filter)) ids.insert(s.id);
    return ids;
}

json verifyJson(const db::RecordingRow& row, const SealCheck& check) {
    return {{"session_id", row.sessionId},
            {"channel", row.channel},
            {"path", row.path},
            {"status", stateCode(check.state)},
            {"ok", !check.problem() && !check.unverifiable()},
            {"size", row.size ? json(*row.size) : json()},
            {"sha256", row.sha256 ? json(*row.sha256) : json()},
            {"actual_size", check.actualSize ? json(*check.actualSize) : json()},
            {"actual_sha256", check.actualSha256.empty() ? json() : json(check.actualSha256)},
            {"detail", check.detail}};
}

// One problem, in the shape `audit verify --json` uses too: what it is about
// and one line of text.
struct VerifyProblem {
    std::string sessionId;
    std::optional<int> channel;
    std::string text;
};

json problemJson(const VerifyProblem& p) {
    return {{"session_id", p.sessionId},
            {"channel", p.channel ? json(*p.channel) : json(nullptr)},
            {"problem", p.text}};
}

std::vector<db::AuditRecord> eventsOfType(db::AuditLog& audit, const std::string& type) {
    db::AuditFilter filter;
    filter.type = type;
    filter.limit = std::numeric_limits<int>::max();
    return audit.list(filter);
}

// Sessions and recordings the audit chain knows (session.start,
// session.recording, recording.checkpoint) that the store no longer holds,
// other than those `session prune` removed (issue 12, finding 6).
std::vector<VerifyProblem> goneFromTheStore(Store& store, const AuditedSeals& audited,
                                            const std::vector<db::RecordingRow>& rows) {
    std::set<std::string> pruned;
    for (const auto& r : eventsOfType(store.audit(), "session.pruned")) {
        const auto& ids = r.event.details.value("session_ids", json::array());
        if (!ids.is_array()) continue;
        for (const auto& id : ids) {
            if (id.is_string()) pruned.insert(id.get<std::string>());
        }
    }
    db::Sessions sessions(store.db());
    std::set<std::string> missingSessions;
    std::vector<VerifyProblem> out;
    for (const auto& r : eventsOfType(store.audit(), "session.start")) {
        const auto& d = r.event.details;
        if (!d.is_object() || !d.contains("session_id") || !d["session_id"].is_string()) continue;
        const auto id = d["session_id"].get<std::string>();
        if (pruned.contains(id) || missingSessions.contains(id) || sessions.find(id)) continue;
        missingSessions.insert(id);
        out.push_back({id, std::nullopt,
                       "session " + id + ": started in the audit chain (session.start event " +
                           std::to_string(r.id) + ") but not in the store (row deleted)"});
    }
    std::set<std::pair<std::string, int>> present;
    for (const auto& row : rows) present.insert({row.sessionId, row.channel});
    for (const auto& [key, known] : audited.knownRecordings()) {
        if (pruned.contains(key.first) || present.contains(key)) continue;
        std::string where;
        if (!known.path.empty()) {
            db::RecordingRow probe;
            probe.sessionId = key.first;
            probe.channel = key.second;
            probe.path = known.path;
            const auto file = recordingFile(store.dir(), probe);
            std::error_code ec;
            where = file && std::filesystem::exists(*file, ec)
                        ? "; its file " + known.path + " is still there"
                        : "; its file " + known.path + " is gone";
        }
        out.push_back({key.first, key.second,
                       "recording of session " + key.first + " channel " +
                           std::to_string(key.second) + ": in the audit chain (" + known.type +
                           " event " + std::to_string(known.eventId) + ") but not in the store" +
                           where});
    }
    return out;
}

int sessionVerify(Invocation& inv) {
    auto id = inv.optionalArg(0);
    const bool all = inv.flag("all");
    if (all == id.has_value()) {
        throw UsageError("give one session ID or --all: usage: " + inv.commandLine() + " " +
                         std::string(inv.spec().usage));
    }
    Store store(inv.globals());
    std::vector<db::RecordingRow> rows;
    std::set<std::string> active;
    if (id) {
        const db::SessionRecord session = requireSession(store.db(), *id);
        id = session.id;  // the whole id of a prefix
        rows = db::Recordings(store.db()).forSession(session.id);
        if (session.status == "active") active.insert(session.id);
    } else {
        rows = db::Recordings(store.db()).all();
        active = activeSessionIds(store.db());
    }

    const auto audited = AuditedSeals::load(store.audit(), id);
    json report = json::array();
    std::vector<VerifyProblem> problems;
    std::size_t unverifiable = 0;
    Table table({"SESSION", "CH", "PATH", "STATUS", "DETAIL"});
    {
        Progress progress("verified", "recordings", rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            progress.update(i);
            const auto& row = rows[i];
            const SealCheck check =
                checkSeal(store.dir(), row, active.contains(row.sessionId), audited);
            if (check.problem()) {
                problems.push_back({row.sessionId, row.channel,
                                    "session " + row.sessionId + " channel " +
                                        std::to_string(row.channel) + " (" + row.path +
                                        "): " + verifyLabel(check.state) +
                                        (check.detail.empty() ? "" : ": " + check.detail)});
            }
            if (check.unverifiable()) ++unverifiable;
            report.push_back(verifyJson(row, check));
            table.addRow({row.sessionId, std::to_string(row.channel),
                          recording::displayLine(row.path), verifyLabel(check.state),
                          recording::displayLine(orDash(check.detail))});
        }
    }
    std::vector<VerifyProblem> gone;
    if (all) gone = goneFromTheStore(store, audited, rows);
    problems.insert(problems.end(), gone.begin(), gone.end());

    const int exit = !problems.empty()  ? kExitFailure
                     : unverifiable > 0 ? kExitUnverifiable
                                        : kExitOk;
    if (inv.json()) {
        json list = json::array();
        for (const auto& p : problems) list.push_back(problemJson(p));
        printJson({{"ok", exit == kExitOk},
                   {"checked", rows.size()},
                   {"unverifiable", unverifiable},
                   {"problems", list},
                   {"recordings", report}});
    } else {
        table.print(std::cout, id ? "session " + *id + " has no recordings" : "no recordings");
        for (const auto& p : gone) std::cout << recording::displayLine(p.text) << '\n';
        if (!rows.empty()) {
            const std::size_t recordingProblems = problems.size() - gone.size();
            std::cout << rows.size()
                      << " recording(s) checked: " << rows.size() - recordingProblems - unverifiable
                      << " ok or still being written, " << unverifiable
                      << " unverifiable after their last checkpoint, " << recordingProblems
                      << " problem(s)\n";
        }
    }
    if (exit == kExitFailure) {
        printError(std::to_string(problems.size()) +
                   " problem(s): keep the files and the database as evidence, and compare with "
                   "your backups and the audit chain (`portcullis audit verify`)");
    } else if (exit == kExitUnverifiable) {
        printError(std::to_string(unverifiable) +
                   " recording(s) were never sealed (a crash); each matches its last checkpoint, "
                   "what was written after it cannot be verified");
    }
    return exit;
}

// ---- prune ------------------------------------------------------------------

void pruneOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("older-than", "sessions that ended more than DUR ago (90d, 12h)",
         cxxopts::value<std::string>(), "DUR")
        ("dry-run", "list what would be deleted, delete nothing");
    // clang-format on
}

struct PrunedSession {
    db::SessionRecord session;
    std::vector<fs::path> files;
    std::vector<std::string> refused;  // stored paths that leave recordings/: left alone
};

json prunedJson(const PrunedSession& p) {
    json files = json::array();
    for (const auto& f : p.files) files.push_back(f.string());
    return {{"id", p.session.id},
            {"account", p.session.account},
            {"login", p.session.login},
            {"target", p.session.target},
            {"started_at", isoTime(p.session.startedAt)},
            {"ended_at", isoTimeOrNull(p.session.endedAt)},
            {"status", p.session.status},
            {"files", files}};
}

int sessionPrune(Invocation& inv) {
    const auto olderThanText = inv.option("older-than");
    if (!olderThanText) {
        throw UsageError("--older-than DUR is required (for example --older-than 90d)");
    }
    const Seconds olderThan = requireDuration(*olderThanText, "--older-than");
    const bool dryRun = inv.flag("dry-run");
    const TimePoint cutoff = systemNow() - olderThan;

    Store store(inv.globals(), dryRun ? Store::Access::read : Store::Access::change);
    db::Sessions sessions(store.db());
    db::Recordings recordings(store.db());
    std::vector<PrunedSession> pruned;
    std::vector<std::string> problems;
    // endedBefore never returns an active session, and remove() refuses one.
    for (const auto& id : sessions.endedBefore(cutoff)) {
        auto session = sessions.find(id);
        if (!session || session->status == "active") continue;
        PrunedSession p{std::move(*session), {}, {}};
        for (const auto& row : recordings.forSession(id)) {
            if (auto file = recordingFile(store.dir(), row)) {
                // Sealed hidden input goes with its recording (NAME.cast.secrets).
                const fs::path sidecar(file->string() + ".secrets");
                std::error_code ec;
                p.files.push_back(std::move(*file));
                if (fs::exists(fs::symlink_status(sidecar, ec))) p.files.push_back(sidecar);
            } else {
                p.refused.push_back(file.error());
            }
        }
        pruned.push_back(std::move(p));
    }

    std::size_t fileCount = 0;
    for (const auto& p : pruned) fileCount += p.files.size();
    if (!dryRun && !pruned.empty()) {
        json ids = json::array();
        for (const auto& p : pruned) {
            if (!sessions.remove(p.session.id)) {
                throw Failure("session " + p.session.id +
                              " could not be removed (it is active again?); nothing was pruned, "
                              "retry");
            }
            ids.push_back(p.session.id);
        }
        // The rows and the audit event commit together; the files go after, so
        // a failure never leaves rows pointing at deleted recordings.
        store.recordChange("session.pruned", {{"count", pruned.size()},
                                              {"session_ids", ids},
                                              {"recordings", fileCount},
                                              {"older_than", formatDuration(olderThan)},
                                              {"cutoff", isoTime(cutoff)}});
        for (const auto& p : pruned) {
            for (const auto& file : p.files) {
                std::error_code ec;
                fs::remove(file, ec);
                if (ec) problems.push_back("cannot delete " + file.string() + ": " + ec.message());
            }
        }
    }
    for (const auto& p : pruned) {
        for (const auto& refused : p.refused) problems.push_back(refused);
    }

    if (inv.json()) {
        json out = json::array();
        for (const auto& p : pruned) out.push_back(prunedJson(p));
        printJson({{"dry_run", dryRun},
                   {"cutoff", isoTime(cutoff)},
                   {"count", pruned.size()},
                   {"recordings", fileCount},
                   {"sessions", out},
                   {"problems", problems}});
    } else {
        for (const auto& p : pruned) {
            std::cout << (dryRun ? "would remove " : "removed ") << p.session.id << "  "
                      << p.session.account << " as " << p.session.login << "@" << p.session.target
                      << ", ended " << isoTimeOr(p.session.endedAt, "-") << ", " << p.files.size()
                      << " recording(s)\n";
        }
        if (pruned.empty()) {
            std::cout << "nothing to prune: no session ended before " << isoTime(cutoff) << '\n';
        } else {
            std::cout << (dryRun ? "would prune " : "pruned ") << pruned.size()
                      << " session(s) and " << fileCount << " recording(s) that ended before "
                      << isoTime(cutoff) << '\n';
        }
    }
    for (const auto& problem : problems) printError(problem);
    if (!problems.empty()) {
        printError(
            "some recording files were left in place: delete them by hand once you have "
            "checked why");
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> sessionIntegrityCommands() {
    return {
        {.path = "session verify",
         .usage = "(ID | --all)",
         .summary = "recompute recordings' size and SHA-256 against their seal and checkpoints "
                    "(exit 1 on any problem, 3 when only an unsealed tail is unverifiable)",
         .run = sessionVerify,
         .options = verifyOptions,
         .maxArgs = 1},
        {.path = "session prune",
         .usage = "--older-than DUR [--dry-run]",
         .summary = "delete sessions that ended more than DUR ago, with their recordings",
         .run = sessionPrune,
         .options = pruneOptions},
    };
}

}  // namespace portcullis::cli
