// portcullis session search: a regular expression over what sessions showed
// and what their users typed. Output is matched line by line as the screen
// showed it (escape sequences interpreted, colours gone), input as the lines
// typed (editing keys applied). Recordings are streamed one event at a time
// and searched on a few threads, results printed in session order, so
// thousands of sessions are searched quickly in bounded memory.
#include <algorithm>
#include <iostream>
#include <limits>
#include <memory>
#include <thread>
#include <unordered_map>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "review/ordered_workers.hpp"
#include "review/recording_search.hpp"
#include "review/seal_check.hpp"

namespace portcullis::cli {

using review::AuditedSeals;
using review::Budget;
using review::checkSeal;
using review::Match;
using review::Regex;
using review::SealCheck;
using review::sealWarning;
using review::Searched;
using review::stateCode;
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kDefaultLimit = 1000;
constexpr std::int64_t kMaxContext = 100;
constexpr unsigned kMaxThreads = 8;
// Recordings searched ahead of the one being printed (bounds the memory held).
constexpr std::size_t kWindowPerThread = 4;

void searchOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("user", "sessions of this account", cxxopts::value<std::string>(), "U")
        ("target", "sessions on this target", cxxopts::value<std::string>(), "T")
        ("since", "sessions started at or after this instant (ISO 8601) or this long ago (DUR)",
         cxxopts::value<std::string>(), "WHEN")
        ("limit", "stop after N matching lines",
         cxxopts::value<std::string>()->default_value(std::to_string(kDefaultLimit)), "N")
        ("context", "show N lines before and after each match",
         cxxopts::value<std::string>()->default_value("0"), "N")
        ("i,ignore-case", "match upper and lower case alike");
    // clang-format on
}

struct Job {
    const db::SessionRecord* session = nullptr;
    const db::RecordingRow* row = nullptr;
    std::size_t sessionIndex = 0;  // for progress
};

std::string matchTime(std::int64_t startedAtUnix, std::int64_t elapsedUs) {
    return isoTime(TimePoint(Seconds(startedAtUnix + elapsedUs / 1000000)));
}

json matchJson(const db::SessionRecord& s, const Searched& searched, const Match& m) {
    return {{"session_id", s.id},
            {"account", s.account},
            {"login", s.login},
            {"target", s.target},
            {"channel", m.channel},
            {"time", matchTime(searched.startedAtUnix, m.elapsedUs)},
            {"offset_s", static_cast<double>(m.elapsedUs) / 1e6},
            {"stream", m.stream},
            {"approximate", m.approximate},
            {"carried_sftp", searched.carriesSftp},
            {"seal", stateCode(searched.seal.state)},
            {"line", m.line},
            {"before", m.before},
            {"after", m.after}};
}

void printMatch(const db::SessionRecord& s, const Searched& searched, const Match& m,
                bool withContext) {
    std::string where = m.stream;
    if (m.approximate) where += " (approximate)";
    if (m.channel != 1) where += " (channel " + std::to_string(m.channel) + ")";
    if (searched.carriesSftp) where += " (exec carrying SFTP)";
    const std::string head = recording::displayLine(s.id) + "  " +
                             matchTime(searched.startedAtUnix, m.elapsedUs) + "  " + where;
    if (!withContext) {
        std::cout << head << "  " << recording::displayLine(m.line) << '\n';
        return;
    }
    std::cout << head << '\n';
    for (const auto& line : m.before) std::cout << "    " << recording::displayLine(line) << '\n';
    std::cout << "  > " << recording::displayLine(m.line) << '\n';
    for (const auto& line : m.after) std::cout << "    " << recording::displayLine(line) << '\n';
    std::cout << '\n';
}

int sessionSearch(Invocation& inv) {
    // A usage error before any work.
    const auto compile = [&] {
        auto regex = Regex::compile(inv.arg(0), inv.flag("ignore-case"));
        if (!regex) throw UsageError(regex.error());
        return std::move(regex.value());
    };
    compile();
    db::SessionFilter filter;
    if (const auto user = inv.option("user")) filter.account = requireName(*user, "account name");
    if (const auto target = inv.option("target")) {
        filter.target = requireName(*target, "target name");
    }
    if (const auto since = inv.option("since")) {
        filter.since = requireUsage(parseSince(*since, systemNow()), "--since");
    }
    filter.limit = std::numeric_limits<int>::max();
    Budget budget;
    budget.limit = requirePositiveInteger(inv.optionOr("limit"), "--limit");
    const std::string contextText = inv.optionOr("context");
    const std::int64_t context =
        contextText == "0" ? 0 : requirePositiveInteger(contextText, "--context");
    if (context > kMaxContext) {
        throw UsageError("--context: at most " + std::to_string(kMaxContext) + " lines");
    }

    Store store(inv.globals());
    const auto sessions = db::Sessions(store.db()).list(filter);
    std::unordered_map<std::string, std::vector<db::RecordingRow>> recordingsOf;
    for (auto& row : db::Recordings(store.db()).all()) {
        recordingsOf[row.sessionId].push_back(std::move(row));
    }
    std::vector<Job> jobs;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        for (const auto& row : recordingsOf[sessions[i].id])
            jobs.push_back({&sessions[i], &row, i});
    }

    // glibc serialises regexec() on one compiled pattern: one copy per thread.
    const unsigned threads = std::clamp<unsigned>(
        std::min<std::size_t>(std::thread::hardware_concurrency(), jobs.size()), 1, kMaxThreads);
    std::vector<std::unique_ptr<Regex>> regexes;
    for (unsigned i = 0; i < threads; ++i) {
        regexes.push_back(compile());
    }
    const db::StateDir& dir = store.dir();
    // Every recording read is checked against its seal first (issue 13).
    const AuditedSeals audited = AuditedSeals::load(store.audit(), std::nullopt);
    // Each recording is searched against the whole limit; what goes past it is
    // dropped here, in order.
    const auto work = [&](const Job& job, unsigned worker) -> Result<Searched> {
        Budget own{budget.limit, 0};
        const fs::path file = requireRecordingFile(dir, *job.row);
        const SealCheck seal = checkSeal(dir, *job.row, job.session->status == "active", audited);
        auto searched = review::searchRecording(file, *job.row, *regexes[worker],
                                                static_cast<std::size_t>(context), own);
        if (searched) searched->seal = seal;
        return searched;
    };

    json results = json::array();
    std::size_t searchedRecordings = 0;
    std::size_t unsealed = 0;  // recordings read that do not match their seal, or unreadable
    Progress progress("searched", "sessions", sessions.size());
    review::OrderedWorkers<Job, Searched> workers(jobs, threads, kWindowPerThread, work);
    for (std::size_t i = 0; i < jobs.size() && !budget.full(); ++i) {
        auto searched = workers.next();
        if (!searched) break;
        progress.update(jobs[i].sessionIndex);
        ++searchedRecordings;
        if (!*searched) {
            progress.clear();
            printError("skipped: " + searched->error());
            ++unsealed;  // a missing or unreadable recording is not what was sealed either
            continue;
        }
        const auto& found = searched->value();
        if (const auto warning = sealWarning(*jobs[i].row, found.seal); !warning.empty()) {
            progress.clear();
            printError(warning);
            if (found.seal.problem()) ++unsealed;
        }
        if (!found.matches.empty()) progress.clear();
        for (const auto& m : found.matches) {
            if (budget.full()) break;
            ++budget.found;
            if (inv.json()) {
                results.push_back(matchJson(*jobs[i].session, found, m));
            } else {
                printMatch(*jobs[i].session, found, m, context > 0);
            }
        }
    }
    workers.stop();
    progress.clear();
    if (inv.json()) printJson(results);
    std::cout.flush();
    if (budget.full()) {
        printError("stopped after " + std::to_string(budget.found) +
                   " matching lines (--limit); narrow with --since, --user or --target, or "
                   "raise --limit");
    }
    if (unsealed > 0) {
        printError(std::to_string(unsealed) + " of the " + std::to_string(searchedRecordings) +
                   " recordings searched do not match their seal (see the warnings above): "
                   "exit 1");
    }
    if (budget.found == 0) {
        printError("no match in " + std::to_string(searchedRecordings) + " recordings of " +
                   std::to_string(sessions.size()) + " sessions");
        return kExitFailure;
    }
    return unsealed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

std::vector<CommandSpec> sessionSearchCommands() {
    return {
        {.path = "session search",
         .usage = "REGEX [--user U] [--target T] [--since ISO8601|DUR] [--limit N] [--context N]",
         .summary = "find a regular expression in what sessions showed and what was typed "
                    "(exit 1: no match)",
         .run = sessionSearch,
         .options = searchOptions,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
