// portcullis audit ...: read, verify and follow the audit chain.
#include <signal.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "admin_cli/arguments.hpp"
#include "admin_cli/audit_types.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "db/audit.hpp"
#include "recording/display_text.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

constexpr int kDefaultListLimit = 100;
constexpr int kDefaultTailLines = 10;
constexpr std::chrono::milliseconds kTailPoll{500};
constexpr std::chrono::milliseconds kTailTick{50};  // how fast an interrupt is noticed
constexpr int kTailBatch = 100000;                  // events fetched per poll at most

TimePoint eventTime(const db::AuditRecord& r) {
    return TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::microseconds(r.tsMicros))};
}

// The same object audit.log and syslog carry ("ts" in ISO 8601 UTC with microseconds).
json recordJson(const db::AuditRecord& r) {
    return r.toJson();
}

std::string detailsText(const db::AuditRecord& r) {
    return r.event.details.dump(-1, ' ', false, json::error_handler_t::replace);
}

void filterOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("type", "event type (listed below), or a family: session.* or admin.",
         cxxopts::value<std::string>(), "T")
        ("user", "events by or about this account or operator", cxxopts::value<std::string>(), "U");
    // clang-format on
}

void listOptions(cxxopts::Options& o) {
    filterOptions(o);
    // clang-format off
    o.add_options()
        ("since", "from this instant (ISO 8601) or this long ago (DUR)",
         cxxopts::value<std::string>(), "WHEN")
        ("limit", "at most N events (the newest)",
         cxxopts::value<std::string>()->default_value(std::to_string(kDefaultListLimit)), "N");
    // clang-format on
}

void tailOptions(cxxopts::Options& o) {
    filterOptions(o);
    // clang-format off
    o.add_options()("limit", "show the last N events before following",
                    cxxopts::value<std::string>()->default_value(std::to_string(kDefaultTailLines)),
                    "N");
    // clang-format on
}

// --type against the types this version writes and those in the store.
void checkType(Store& store, const db::AuditFilter& filter) {
    if (filter.type) requireKnownAuditType(*filter.type, store.audit().types());
}

db::AuditFilter filterFromArguments(const Invocation& inv) {
    db::AuditFilter filter;
    if (const auto type = inv.option("type")) {
        if (type->empty()) throw UsageError("--type: give an event type such as admin.user.add");
        filter.type = *type;
    }
    if (const auto user = inv.option("user")) filter.user = *user;
    if (const auto since = inv.option("since")) {
        filter.since = requireUsage(parseSince(*since, systemNow()), "--since");
    }
    filter.limit = static_cast<int>(std::min<std::int64_t>(
        requirePositiveInteger(inv.optionOr("limit"), "--limit"), kTailBatch));
    return filter;
}

int auditList(Invocation& inv) {
    const db::AuditFilter filter = filterFromArguments(inv);
    Store store(inv.globals());
    checkType(store, filter);
    const auto records = store.audit().list(filter);
    if (inv.json()) {
        json out = json::array();
        for (const auto& r : records) out.push_back(recordJson(r));
        printJson(out);
        return kExitOk;
    }
    Table table({"ID", "TIME", "TYPE", "ACTOR", "SOURCE", "DETAILS"});
    for (const auto& r : records) {
        table.addRow({std::to_string(r.id), isoTime(eventTime(r)), r.event.type, r.event.actor,
                      orDash(r.event.source), detailsText(r)});
    }
    table.print(std::cout, "no matching audit events");
    return kExitOk;
}

void verifyOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()("anchor",
                    "event ID must still be in the chain with this hash, as an audit.checkpoint "
                    "(or `portcullis audit head`) recorded it; repeatable",
                    cxxopts::value<std::vector<std::string>>(), "ID:HASH");
    // clang-format on
}

// The problem shape `session verify --json` uses too: what it is about, and the text.
json problemJson(const db::AuditProblem& p) {
    return {{"id", p.id ? json(*p.id) : json(nullptr)}, {"problem", p.text}};
}

int auditVerify(Invocation& inv) {
    std::vector<db::AuditAnchor> anchors;
    for (const auto& text : inv.options("anchor")) {
        auto anchor = db::parseAuditAnchor(text);
        if (!anchor) throw UsageError("--anchor: " + anchor.error());
        anchors.push_back(std::move(anchor).value());
    }
    Store store(inv.globals());
    const db::AuditVerifyReport report = store.audit().verify(anchors);
    if (inv.json()) {
        json problems = json::array();
        for (const auto& p : report.problems) problems.push_back(problemJson(p));
        printJson({{"ok", report.ok()},
                   {"checked", report.checked},
                   {"anchors", anchors.size()},
                   {"mirror",
                    {{"files", report.mirrorFiles},
                     {"first_id", report.mirrorFirst ? json(*report.mirrorFirst) : json(nullptr)},
                     {"last_id", report.mirrorLast ? json(*report.mirrorLast) : json(nullptr)}}},
                   {"problems", problems}});
    } else if (report.ok()) {
        std::cout << "audit chain intact: " << report.checked << " events verified";
        if (report.mirrorFirst) {
            std::cout << "; audit.log agrees (events " << *report.mirrorFirst << "-"
                      << *report.mirrorLast << ")";
        }
        if (!anchors.empty()) std::cout << "; " << anchors.size() << " anchor(s) hold";
        std::cout << '\n';
    } else {
        for (const auto& problem : report.problems) std::cout << problem.text << '\n';
    }
    if (!report.ok()) {
        printError("audit chain broken: " + std::to_string(report.problems.size()) +
                   " problem(s) in " + std::to_string(report.checked) +
                   " events; keep the database and audit.log as evidence and compare them with "
                   "your SIEM's copy (syslog, audit.checkpoint events)");
        return kExitFailure;
    }
    return kExitOk;
}

int auditHead(Invocation& inv) {
    Store store(inv.globals());
    const db::AuditHead head = store.audit().head();
    if (inv.json()) {
        printJson({{"id", head.id}, {"hash", head.hash}});
    } else {
        std::cout << head.id << ' ' << head.hash << '\n';
    }
    return kExitOk;
}

// ---- tail -------------------------------------------------------------------

volatile std::sig_atomic_t interrupted = 0;

void onInterrupt(int) {
    interrupted = 1;
}

// SIGINT/SIGTERM end the follow loop cleanly (exit 0) for as long as it lives.
class InterruptHandler {
  public:
    InterruptHandler() {
        struct sigaction action {};
        action.sa_handler = onInterrupt;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &oldInt_);
        ::sigaction(SIGTERM, &action, &oldTerm_);
    }
    ~InterruptHandler() {
        ::sigaction(SIGINT, &oldInt_, nullptr);
        ::sigaction(SIGTERM, &oldTerm_, nullptr);
    }
    InterruptHandler(const InterruptHandler&) = delete;
    InterruptHandler& operator=(const InterruptHandler&) = delete;

  private:
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
};

// One event per line, every field quoted and escaped as portcullisd's log
// does, so that a value cannot read as more fields (an actor named
// `x" account=root event=auth.success`) nor act on the terminal.
void printTailLine(const Invocation& inv, const db::AuditRecord& r) {
    if (inv.json()) {
        printJsonLine(recordJson(r));
        return;
    }
    std::cout << r.id << "  " << isoTime(eventTime(r)) << "  " << logfmtValue(r.event.type)
              << "  actor=" << logfmtValue(r.event.actor);
    if (!r.event.source.empty()) std::cout << "  source=" << logfmtValue(r.event.source);
    std::cout << "  " << recording::terminalSafeJson(detailsText(r)) << std::endl;
}

int auditTail(Invocation& inv) {
    db::AuditFilter filter = filterFromArguments(inv);
    Store store(inv.globals());
    checkType(store, filter);
    InterruptHandler handler;
    std::int64_t lastId = 0;
    for (const auto& r : store.audit().list(filter)) {
        printTailLine(inv, r);
        lastId = std::max(lastId, r.id);
    }
    if (lastId == 0) {
        // Nothing matched yet: follow from the newest event of any kind.
        db::AuditFilter newest;
        newest.limit = 1;
        for (const auto& r : store.audit().list(newest)) lastId = r.id;
    }
    filter.limit = kTailBatch;
    while (!interrupted) {
        for (auto waited = std::chrono::milliseconds(0); waited < kTailPoll && !interrupted;
             waited += kTailTick) {
            std::this_thread::sleep_for(kTailTick);
        }
        if (interrupted) break;
        filter.afterId = lastId;
        for (const auto& r : store.audit().list(filter)) {
            printTailLine(inv, r);
            lastId = std::max(lastId, r.id);
        }
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> auditCommands() {
    return {
        {.path = "audit list",
         .usage = "[--since ISO8601|DUR] [--type T] [--user U] [--limit N]",
         .summary = "audit events, oldest first (the newest N, default 100)",
         .run = auditList,
         .options = listOptions,
         .moreHelp = printAuditTypes},
        {.path = "audit verify",
         .usage = "[--anchor ID:HASH]...",
         .summary = "check the hash chain, audit.log and the anchors; exit 1 and list the "
                    "problems when they disagree",
         .run = auditVerify,
         .options = verifyOptions},
        {.path = "audit head",
         .usage = "",
         .summary = "the newest event's id and hash (ID HASH), to keep outside the store",
         .run = auditHead},
        {.path = "audit tail",
         .usage = "[--type T] [--user U] [--limit N]",
         .summary = "the last events, then new ones as they come (until Ctrl-C)",
         .run = auditTail,
         .options = tailOptions,
         .moreHelp = printAuditTypes},
    };
}

}  // namespace portcullis::cli
