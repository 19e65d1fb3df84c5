// portcullis session ...: sessions from the store (list, show) and live ones
// through portcullisd's control socket (list --active, kill). Playback,
// export, search, verify and prune need the recordings, which do not exist
// yet: they say so plainly (exit 1).
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/control_client.hpp"
#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "db/sessions.hpp"

namespace portcullis::cli {
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

int sessionShow(Invocation& inv) {
    const std::string& id = inv.arg(0);
    Store store(inv.globals());
    const auto record = db::Sessions(store.db()).find(id);
    if (!record) throw Failure("no session " + id);
    if (inv.json()) {
        printJson(recordJson(*record));
        return kExitOk;
    }
    const auto& r = *record;
    printFields(std::cout, {{"ID", r.id},
                            {"Account", r.account},
                            {"Login", r.login},
                            {"Target", r.target},
                            {"Grant", r.grantId ? std::to_string(*r.grantId) : "-"},
                            {"Source", orDash(r.source)},
                            {"Gateway", orDash(r.gateway)},
                            {"Started", isoTime(r.startedAt)},
                            {"Ended", isoTimeOr(r.endedAt, "-")},
                            {"Status", r.status},
                            {"End reason", orDash(r.endReason)},
                            {"Bytes in", bytesText(r.bytesIn)},
                            {"Bytes out", bytesText(r.bytesOut)}});
    return kExitOk;
}

int sessionKill(Invocation& inv) {
    const std::string& id = inv.arg(0);
    const auto socket = resolveStateDir(inv.globals()).controlSocket();
    // The daemon says why it refused ("no live session ID", "permission denied").
    requireOk(controlRequest(socket, {{"op", "kill"}, {"id", id}, {"by", operatorName()}}));
    if (inv.json()) {
        printJson({{"killed", id}});
    } else {
        std::cout << "session " << id << " terminated\n";
    }
    return kExitOk;
}

int sessionNotYet(Invocation& inv) {
    if (inv.globals().help) {
        std::cout << "Usage: " << inv.commandLine() << " ...\n\n"
                  << "Needs session recordings, which are not yet available in this build.\n";
        return kExitOk;
    }
    throw Failure(inv.commandLine() + " needs session recordings (not yet available)");
}

}  // namespace

std::vector<CommandSpec> sessionCommands() {
    return {
        {.path = "session list",
         .usage = "[--active] [--user U] [--target T] [--since ISO8601|DUR] [--limit N]",
         .summary = "sessions from the store (the newest N, default 100); --active: live ones",
         .run = sessionList,
         .options = listOptions},
        {.path = "session show",
         .usage = "ID",
         .summary = "one session: who, as whom, where, under which grant, how it ended",
         .run = sessionShow,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "session kill",
         .usage = "ID",
         .summary = "end a live session now (through portcullisd)",
         .run = sessionKill,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "session play",
         .usage = "ID [--speed X] [--idle-limit DUR]",
         .summary = "replay a recording (not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
        {.path = "session export",
         .usage = "ID [--format cast|text] [-o FILE]",
         .summary = "export a recording (not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
        {.path = "session search",
         .usage = "REGEX [--user U] [--target T] [--since ...]",
         .summary = "search recordings (not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
        {.path = "session verify",
         .usage = "(ID | --all)",
         .summary = "check recordings against their hashes (not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
        {.path = "session prune",
         .usage = "--older-than DUR",
         .summary = "delete old recordings (not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
    };
}

}  // namespace portcullis::cli
