// portcullis session ...: sessions from the store (list, show with the state
// of each recording) and live ones through portcullisd's control socket
// (list --active, kill). The commands that read recordings live in
// session_playback.cpp (play, export), session_search.cpp and
// session_integrity.cpp (verify, prune); sessionCommands() joins them.
#include <sys/stat.h>

#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/control_client.hpp"
#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "db/grants.hpp"
#include "db/locks.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "recording/recording_reader.hpp"
#include "recording/sftp_handshake.hpp"
#include "review/seal_check.hpp"
#include "review/sftp_operations.hpp"
#include "review/typed_lines.hpp"

namespace portcullis::cli {

using review::AuditedSeals;
using review::checkSeal;
using review::isSftpChannel;
using review::recordingFile;
using review::SealCheck;
using review::sftpOperationJson;
using review::sftpOperationLine;
using review::sftpOperations;
using review::SftpOperationView;
using review::showLabel;
using review::stateCode;
using review::TypedLines;
namespace {

using nlohmann::json;

constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 100000;

std::string bytesText(std::int64_t n) {
    return std::to_string(n);
}

json recordJson(const db::SessionRecord& r) {
    return {{"id", r.id},
            {"account", r.account},
            {"login", r.login},
            {"target", r.target},
            {"grant_id", r.grantId ? json(*r.grantId) : json()},
            {"source", r.source},
            {"gateway", r.gateway},
            {"started_at", isoTime(r.startedAt)},
            {"ended_at", isoTimeOrNull(r.endedAt)},
            {"status", r.status},
            {"end_reason", r.endReason},
            {"bytes_in", r.bytesIn},
            {"bytes_out", r.bytesOut}};
}

void listOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("active", "live sessions, from portcullisd's control socket")
        ("user", "sessions of this account", cxxopts::value<std::string>(), "U")
        ("target", "sessions on this target", cxxopts::value<std::string>(), "T")
        ("since", "started at or after this instant (ISO 8601) or this long ago (DUR)",
         cxxopts::value<std::string>(), "WHEN")
        ("limit", "at most N sessions (the newest)",
         cxxopts::value<std::string>()->default_value(std::to_string(kDefaultListLimit)), "N");
    // clang-format on
}

struct ListFilter {
    std::optional<std::string> user;
    std::optional<std::string> target;
    std::optional<TimePoint> since;
    int limit = kDefaultListLimit;
};

ListFilter filterFromArguments(const Invocation& inv) {
    ListFilter f;
    if (const auto user = inv.option("user")) f.user = requireName(*user, "account name");
    if (const auto target = inv.option("target")) f.target = requireName(*target, "target name");
    if (const auto since = inv.option("since")) {
        f.since = requireUsage(parseSince(*since, systemNow()), "--since");
    }
    f.limit = static_cast<int>(std::min<std::int64_t>(
        requirePositiveInteger(inv.optionOr("limit"), "--limit"), kMaxListLimit));
    return f;
}

json requireOk(json response) {
    if (!response.value("ok", false)) {
        throw Failure(response.contains("error") && response["error"].is_string()
                          ? response["error"].get<std::string>()
                          : std::string("portcullisd refused the request"));
    }
    return response;
}

std::string jsonText(const json& object, const char* key) {
    if (!object.contains(key)) return "";
    const auto& v = object[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

int listActive(const Invocation& inv, const ListFilter& f) {
    const auto socket = resolveStateDir(inv.globals()).controlSocket();
    const json response = requireOk(controlRequest(socket, {{"op", "list"}}));
    json sessions = json::array();
    for (const auto& s : response.value("sessions", json::array())) {
        if (f.user && jsonText(s, "account") != *f.user) continue;
        if (f.target && jsonText(s, "target") != *f.target) continue;
        if (f.since) {
            const auto started = parseIso8601(jsonText(s, "started_at"));
            if (started && *started < *f.since) continue;
        }
        sessions.push_back(s);
    }
    while (sessions.size() > static_cast<std::size_t>(f.limit)) sessions.erase(sessions.begin());
    if (inv.json()) {
        printJson(sessions);
        return kExitOk;
    }
    Table table({"ID", "ACCOUNT", "LOGIN", "TARGET", "SOURCE", "GRANT", "STARTED", "CHANNELS", "IN",
                 "OUT", "IDLE"});
    for (const auto& s : sessions) {
        table.addRow({jsonText(s, "id"), jsonText(s, "account"), jsonText(s, "login"),
                      jsonText(s, "target"), jsonText(s, "source"), orDash(jsonText(s, "grant_id")),
                      jsonText(s, "started_at"), jsonText(s, "channels"), jsonText(s, "bytes_in"),
                      jsonText(s, "bytes_out"), jsonText(s, "idle_s") + "s"});
    }
    table.print(std::cout, "no live sessions");
    return kExitOk;
}

int sessionList(Invocation& inv) {
    const ListFilter f = filterFromArguments(inv);
    if (inv.flag("active")) return listActive(inv, f);
    Store store(inv.globals());
    db::SessionFilter filter;
    filter.account = f.user;
    filter.target = f.target;
    filter.since = f.since;
    filter.limit = f.limit;
    const auto records = db::Sessions(store.db()).list(filter);
    if (inv.json()) {
        json out = json::array();
        for (const auto& r : records) out.push_back(recordJson(r));
        printJson(out);
        return kExitOk;
    }
    Table table(
        {"ID", "ACCOUNT", "LOGIN", "TARGET", "SOURCE", "STARTED", "ENDED", "STATUS", "IN", "OUT"});
    for (const auto& r : records) {
        table.addRow({r.id, r.account, r.login, r.target, r.source, isoTime(r.startedAt),
                      isoTimeOr(r.endedAt, "-"), r.status, bytesText(r.bytesIn),
                      bytesText(r.bytesOut)});
    }
    table.print(std::cout, "no matching sessions");
    return kExitOk;
}

// The grant a session ran under, as far as the store still knows it.
json grantJson(db::Database& db, const db::SessionRecord& r) {
    if (!r.grantId) return nullptr;
    auto grant = db::Grants(db).find(*r.grantId);
    if (!grant) return {{"id", *r.grantId}, {"exists", false}};
    return {{"id", *r.grantId}, {"exists", true}, {"reason", grant->reason}};
}

std::string grantText(const json& grant) {
    if (grant.is_null()) return "-";
    std::string text = "#" + std::to_string(grant["id"].get<std::int64_t>());
    if (!grant["exists"].get<bool>()) return text + " (no longer in the store)";
    const auto reason = grant["reason"].get<std::string>();
    return reason.empty() ? text : text + " (reason: " + reason + ")";
}

// What reading a recording tells beyond its seal: an exec channel that
// carried a whole SFTP session, and typed lines that cannot be trusted.
struct ContentNotes {
    std::optional<std::string> command;  // an exec channel's command line (from the header)
    bool carriedSftp = false;
    std::int64_t typedLines = 0;
    std::int64_t approximateLines = 0;
};

ContentNotes readContentNotes(const db::StateDir& dir, const db::RecordingRow& row) {
    ContentNotes notes;
    const auto file = recordingFile(dir, row);
    struct stat st {};
    if (!file || ::lstat(file->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return notes;
    const auto format = recording::formatOf(*file);
    if (!format) return notes;
    const bool terminal = *format == recording::Format::cast;
    recording::SftpStartDetector sftp;
    TypedLines typed(TypedLines::Mode::terminal);
    const auto count = [&](const std::vector<TypedLines::Line>& lines) {
        notes.typedLines += static_cast<std::int64_t>(lines.size());
        for (const auto& line : lines) notes.approximateLines += line.approximate ? 1 : 0;
    };
    const auto summary = recording::readRecording(*file, [&](const recording::RecordingEvent& e) {
        if (!terminal) {
            // Only the first input bytes matter for a .rec.
            if (e.stream == 'i') sftp.input(e.data);
            return !sftp.decided();
        }
        if (e.stream == 'i') count(typed.input(e.data, e.elapsedUs));
        if (e.stream == 'o') count(typed.output(e.data, e.elapsedUs));
        return true;
    });
    if (terminal) count(typed.finish());
    notes.carriedSftp = row.kind == "exec" && sftp.carriesSftp();
    if (summary && summary->header.contains("command") && summary->header["command"].is_string()) {
        notes.command = summary->header["command"].get<std::string>();
    }
    return notes;
}

std::string kindText(const db::RecordingRow& row, const ContentNotes& notes) {
    return notes.carriedSftp ? row.kind + " (carried SFTP)" : row.kind;
}

json recordingJson(const db::RecordingRow& row, const SealCheck& check, const ContentNotes& notes,
                   const std::vector<SftpOperationView>& sftp) {
    json operations = json::array();
    for (const auto& op : sftp) operations.push_back(sftpOperationJson(op));
    return {{"channel", row.channel},
            {"command", notes.command ? json(*notes.command) : json()},
            {"sftp_operations", isSftpChannel(row) ? operations : json()},
            {"kind", row.kind},
            {"format", row.format},
            {"path", row.path},
            {"started_at", isoTime(row.startedAt)},
            {"ended_at", isoTimeOrNull(row.endedAt)},
            {"size", row.size ? json(*row.size) : json()},
            {"sha256", row.sha256 ? json(*row.sha256) : json()},
            {"status", stateCode(check.state)},
            {"status_text", showLabel(check.state)},
            {"detail", check.detail},
            {"carried_sftp", notes.carriedSftp},
            {"typed_lines", notes.typedLines},
            {"approximate_typed_lines", notes.approximateLines}};
}

int sessionShow(Invocation& inv) {
    const std::string& id = inv.arg(0);
    Store store(inv.globals());
    const auto r = requireSession(store.db(), id);
    const json grant = grantJson(store.db(), r);
    const auto rows = db::Recordings(store.db()).forSession(r.id);
    const auto audited = AuditedSeals::load(store.audit(), r.id);
    std::vector<SealCheck> checks;
    std::vector<ContentNotes> notes;
    std::vector<std::vector<SftpOperationView>> sftp;
    for (const auto& row : rows) {
        checks.push_back(checkSeal(store.dir(), row, r.status == "active", audited));
        notes.push_back(readContentNotes(store.dir(), row));
        sftp.push_back(isSftpChannel(row) ? sftpOperations(store.audit(), rows, row)
                                          : std::vector<SftpOperationView>{});
    }
    if (inv.json()) {
        json out = recordJson(r);
        out["grant"] = grant;
        json recordings = json::array();
        for (std::size_t i = 0; i < rows.size(); ++i) {
            recordings.push_back(recordingJson(rows[i], checks[i], notes[i], sftp[i]));
        }
        out["recordings"] = recordings;
        printJson(out);
        return kExitOk;
    }
    printFields(std::cout, {{"ID", r.id},
                            {"Account", r.account},
                            {"Login", r.login},
                            {"Target", r.target},
                            {"Grant", grantText(grant)},
                            {"Source", orDash(r.source)},
                            {"Gateway", orDash(r.gateway)},
                            {"Started", isoTime(r.startedAt)},
                            {"Ended", isoTimeOr(r.endedAt, "-")},
                            {"Status", r.status},
                            {"End reason", orDash(r.endReason)},
                            {"Bytes in", bytesText(r.bytesIn)},
                            {"Bytes out", bytesText(r.bytesOut)}});
    std::cout << "\nRecordings:\n";
    Table table({"CH", "KIND", "FORMAT", "SIZE", "STATUS", "SHA256", "PATH"});
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        const auto size = row.size ? std::optional<std::uint64_t>(*row.size) : checks[i].actualSize;
        table.addRow({std::to_string(row.channel), kindText(row, notes[i]), row.format,
                      size ? std::to_string(*size) : "-", showLabel(checks[i].state),
                      row.sha256.value_or("-"), recording::displayLine(row.path)});
    }
    table.print(std::cout, "none");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        // What ran: the command of an exec channel, the files of an sftp one.
        if (notes[i].command) {
            std::cout << "channel " << rows[i].channel
                      << ": command: " << recording::displayLine(*notes[i].command) << '\n';
        }
        if (isSftpChannel(rows[i])) {
            std::cout << "channel " << rows[i].channel << ": sftp, " << sftp[i].size()
                      << " file operation(s)" << (sftp[i].empty() ? "" : ":") << '\n';
            for (const auto& op : sftp[i]) std::cout << "    " << sftpOperationLine(op) << '\n';
        }
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (checks[i].problem() && !checks[i].detail.empty()) {
            std::cout << "channel " << rows[i].channel << ": "
                      << recording::displayLine(checks[i].detail) << '\n';
        }
        if (notes[i].carriedSftp) {
            std::cout << "channel " << rows[i].channel
                      << ": an exec channel that carried a whole SFTP session (its input starts "
                         "with SSH_FXP_INIT); the files it moved are in its raw streams\n";
        }
        if (notes[i].approximateLines > 0) {
            std::cout << "channel " << rows[i].channel << ": " << notes[i].approximateLines
                      << " of " << notes[i].typedLines
                      << " typed lines are approximate (typed while the terminal did not echo, "
                         "or recalled from history); see `portcullis session export "
                      << recording::displayLine(r.id) << " --channel " << rows[i].channel
                      << " --format text --stream i`\n";
        }
    }
    return kExitOk;
}

void killOptions(cxxopts::Options& o) {
    o.add_options()("reason", "why: shown to the user on the terminal and kept in the audit chain",
                    cxxopts::value<std::string>(), "TEXT");
}

int sessionKill(Invocation& inv) {
    const auto reason = inv.option("reason");
    if (reason) requireUsage(db::checkShownReason(*reason), "--reason");
    const std::string id = resolveSessionId(Store(inv.globals()).db(), inv.arg(0));
    const auto socket = resolveStateDir(inv.globals()).controlSocket();
    nlohmann::json request{{"op", "kill"}, {"id", id}, {"by", operatorName()}};
    if (reason && !reason->empty()) request["reason"] = *reason;
    // The daemon says why it refused ("no live session ID", "permission denied").
    requireOk(controlRequest(socket, request));
    if (inv.json()) {
        printJson({{"killed", id}, {"reason", reason ? nlohmann::json(*reason) : nullptr}});
    } else {
        std::cout << "session " << id << " terminated\n";
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> sessionCommands() {
    std::vector<CommandSpec> commands = {
        {.path = "session list",
         .usage = "[--active] [--user U] [--target T] [--since ISO8601|DUR] [--limit N]",
         .summary = "sessions from the store (the newest N, default 100); --active: live ones",
         .run = sessionList,
         .options = listOptions},
        {.path = "session show",
         .usage = "ID",
         .summary = "one session: who, where, grant, how it ended; its recordings and their "
                    "hash status",
         .run = sessionShow,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "session kill",
         .usage = "ID [--reason TEXT]",
         .summary = "end a live session now (through portcullisd); the user sees the reason",
         .run = sessionKill,
         .options = killOptions,
         .minArgs = 1,
         .maxArgs = 1},
    };
    for (auto family : {sessionPlaybackCommands, sessionSearchCommands, sessionIntegrityCommands,
                        sessionRevealCommands}) {
        auto part = family();
        commands.insert(commands.end(), part.begin(), part.end());
    }
    return commands;
}

}  // namespace portcullis::cli
