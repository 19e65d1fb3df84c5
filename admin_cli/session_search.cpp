// portcullis session search: a regular expression over what sessions showed
// and what their users typed. Output is matched line by line as the screen
// showed it (escape sequences interpreted, colours gone), input as the lines
// typed (editing keys applied). Recordings are streamed one event at a time
// and searched on a few threads, results printed in session order, so
// thousands of sessions are searched quickly in bounded memory.
#include <regex.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "admin_cli/typed_lines.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "recording/recording_meta.hpp"
#include "recording/recording_reader.hpp"
#include "recording/screen_text.hpp"
#include "recording/sftp_handshake.hpp"

namespace portcullis::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using recording::RecordingEvent;

constexpr std::int64_t kDefaultLimit = 1000;
constexpr std::int64_t kMaxContext = 100;
constexpr unsigned kMaxThreads = 8;
// Lines are matched whole but kept (shown, in JSON) up to this many bytes.
constexpr std::size_t kMaxKeptLine = 4096;
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

// A POSIX extended regular expression (as grep -E), compiled once.
class Regex {
  public:
    Regex(const std::string& pattern, bool ignoreCase) {
        const int flags = REG_EXTENDED | REG_NOSUB | (ignoreCase ? REG_ICASE : 0);
        if (const int rc = ::regcomp(&regex_, pattern.c_str(), flags); rc != 0) {
            char message[256];
            ::regerror(rc, &regex_, message, sizeof message);
            throw UsageError("REGEX `" + pattern + "`: " + message +
                             " (POSIX extended syntax, as grep -E)");
        }
    }
    ~Regex() { ::regfree(&regex_); }
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    bool matches(const std::string& line) const {
        return ::regexec(&regex_, line.c_str(), 0, nullptr, 0) == 0;
    }

  private:
    regex_t regex_{};
};

struct Match {
    int channel = 1;
    std::int64_t elapsedUs = 0;
    std::string stream;  // input, output, stderr
    std::string line;
    bool approximate = false;  // a typed line that was not echoed, or recalled history
    std::vector<std::string> before;
    std::vector<std::string> after;
};

// Counts matches against --limit across everything searched.
struct Budget {
    std::int64_t limit = kDefaultLimit;
    std::int64_t found = 0;
    bool full() const { return found >= limit; }
};

// The lines of one stream of one recording: matches them, keeps the last
// `context` lines for the next match and feeds the after-context of earlier ones.
class LineScanner {
  public:
    LineScanner(const Regex& regex, std::string stream, int channel, std::size_t context,
                Budget& budget, std::vector<Match>& out)
        : regex_(regex),
          stream_(std::move(stream)),
          channel_(channel),
          context_(context),
          budget_(budget),
          out_(out) {}

    // Lines completed by one event, each ending in "\n".
    void lines(std::string_view chunk, std::int64_t elapsedUs) {
        while (!chunk.empty()) {
            const std::size_t end = chunk.find('\n');
            line(std::string(chunk.substr(0, end)), elapsedUs, false);
            if (end == std::string_view::npos) break;
            chunk.remove_prefix(end + 1);
        }
    }
    // Typed lines, each with its own time.
    void lines(std::vector<TypedLines::Line> typed) {
        for (auto& t : typed) line(std::move(t.text), t.elapsedUs, t.approximate);
    }
    bool waiting() const { return !waiting_.empty(); }

  private:
    // A long line (binary output, a wrapped 64k-column one) cut on a UTF-8 boundary.
    static void cut(std::string& text) {
        if (text.size() <= kMaxKeptLine) return;
        std::size_t end = kMaxKeptLine;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text.resize(end);
        text += "...";
    }

    void line(std::string text, std::int64_t elapsedUs, bool approximate) {
        const bool matched = !budget_.full() && regex_.matches(text);
        cut(text);
        for (std::size_t i = 0; i < waiting_.size();) {
            auto& after = out_[waiting_[i]].after;
            after.push_back(text);
            if (after.size() >= context_) {
                waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                ++i;
            }
        }
        if (matched) {
            ++budget_.found;
            out_.push_back({channel_,
                            elapsedUs,
                            stream_,
                            text,
                            approximate,
                            {recent_.begin(), recent_.end()},
                            {}});
            if (context_ > 0) waiting_.push_back(out_.size() - 1);
        }
        if (context_ > 0) {
            recent_.push_back(std::move(text));
            if (recent_.size() > context_) recent_.erase(recent_.begin());
        }
    }

    const Regex& regex_;
    std::string stream_;
    int channel_;
    std::size_t context_;
    Budget& budget_;
    std::vector<Match>& out_;
    std::vector<std::string> recent_;   // at most `context_` lines
    std::vector<std::size_t> waiting_;  // matches in out_ still short of after-context
};

struct Searched {
    SealCheck seal;  // checked before the recording was read
    std::vector<Match> matches;
    std::int64_t startedAtUnix = 0;  // the header's timestamp
    bool carriesSftp = false;        // an exec channel whose input is an SFTP session
};

// One recording, streamed.
Result<Searched> searchRecording(const fs::path& file, const db::RecordingRow& row,
                                 const Regex& regex, std::size_t context, Budget& budget) {
    Searched result;
    const auto format = recording::formatOf(file);
    const bool terminal = !format || *format == recording::Format::cast;
    std::size_t width = 0;  // a .rec's output went to no terminal: no wrapping
    if (terminal) {
        const auto header = readRecordingHeader(file);
        if (!header) return makeError(header.error());
        width = static_cast<std::size_t>(std::max(recording::metaFromHeader(*header).width, 0));
    }
    recording::ScreenText stdoutScreen(width), stderrScreen;
    TypedLines typed(terminal ? TypedLines::Mode::terminal : TypedLines::Mode::data);
    LineScanner output(regex, "output", row.channel, context, budget, result.matches);
    LineScanner errors(regex, "stderr", row.channel, context, budget, result.matches);
    LineScanner input(regex, "input", row.channel, context, budget, result.matches);
    recording::SftpStartDetector sftp;
    std::int64_t lastUs = 0;
    auto summary = recording::readRecording(file, [&](const RecordingEvent& e) {
        lastUs = std::max(lastUs, e.elapsedUs);
        if (e.stream == 'o') {
            // The echo settles lines typed before this output: those come first.
            input.lines(typed.output(e.data, e.elapsedUs));
            output.lines(stdoutScreen.feed(e.data), e.elapsedUs);
        }
        if (e.stream == 'e') errors.lines(stderrScreen.feed(e.data), e.elapsedUs);
        if (e.stream == 'i') {
            sftp.input(e.data);
            input.lines(typed.input(e.data, e.elapsedUs));
        }
        if (e.stream == 'r') {
            if (const auto columns = recording::columnsOfResize(e.data)) {
                stdoutScreen.setWidth(columns);
            }
        }
        return !budget.full() || output.waiting() || errors.waiting() || input.waiting();
    });
    if (!summary) return makeError(file.string() + ": " + summary.error());
    output.lines(stdoutScreen.finish(), lastUs);
    errors.lines(stderrScreen.finish(), lastUs);
    input.lines(typed.finish());
    // A typed line is reported once its echo is settled: back in time order.
    std::stable_sort(result.matches.begin(), result.matches.end(),
                     [](const Match& a, const Match& b) { return a.elapsedUs < b.elapsedUs; });
    result.carriesSftp = row.kind == "exec" && sftp.carriesSftp();
    result.startedAtUnix = recording::metaFromHeader(summary->header).startedAtUnix;
    if (result.startedAtUnix == 0) result.startedAtUnix = row.startedAt.time_since_epoch().count();
    return result;
}

struct Job {
    const db::SessionRecord* session = nullptr;
    const db::RecordingRow* row = nullptr;
    std::size_t sessionIndex = 0;  // for progress
};

// Runs `work` over the jobs on a few threads and hands the results back in
// job order. At most `window` results wait to be taken; stop() (or the
// destructor) lets running jobs finish and starts no new one.
class OrderedWorkers {
  public:
    using Work = std::function<Result<Searched>(const Job&, unsigned worker)>;

    OrderedWorkers(const std::vector<Job>& jobs, unsigned threads, Work work)
        : jobs_(jobs), work_(std::move(work)), window_(threads * kWindowPerThread) {
        for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
    }
    ~OrderedWorkers() {
        stop();
        for (auto& t : threads_) t.join();
    }
    OrderedWorkers(const OrderedWorkers&) = delete;
    OrderedWorkers& operator=(const OrderedWorkers&) = delete;

    // The next job's result, waiting for it; nullopt after the last one.
    std::optional<Result<Searched>> next() {
        std::unique_lock lock(mutex_);
        if (nextOut_ == jobs_.size()) return std::nullopt;
        changed_.wait(lock, [&] { return done_.contains(nextOut_); });
        auto node = done_.extract(nextOut_++);
        changed_.notify_all();
        return std::move(node.mapped());
    }
    void stop() {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        changed_.notify_all();
    }

  private:
    void run(unsigned worker) {
        for (;;) {
            std::size_t index = 0;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return stopping_ || nextJob_ < nextOut_ + window_; });
                if (stopping_ || nextJob_ == jobs_.size()) return;
                index = nextJob_++;
            }
            Result<Searched> result = makeError("");
            try {
                result = work_(jobs_[index], worker);
            } catch (const std::exception& e) {
                result = makeError(e.what());
            }
            std::lock_guard lock(mutex_);
            done_.emplace(index, std::move(result));
            changed_.notify_all();
        }
    }

    const std::vector<Job>& jobs_;
    Work work_;
    std::size_t window_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t nextJob_ = 0;  // the next job a worker takes
    std::size_t nextOut_ = 0;  // the next result next() returns
    bool stopping_ = false;
    std::map<std::size_t, Result<Searched>> done_;
    std::vector<std::thread> threads_;  // last: started once everything else is ready
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
    const std::string head =
        printableLine(s.id) + "  " + matchTime(searched.startedAtUnix, m.elapsedUs) + "  " + where;
    if (!withContext) {
        std::cout << head << "  " << printableLine(m.line) << '\n';
        return;
    }
    std::cout << head << '\n';
    for (const auto& line : m.before) std::cout << "    " << printableLine(line) << '\n';
    std::cout << "  > " << printableLine(m.line) << '\n';
    for (const auto& line : m.after) std::cout << "    " << printableLine(line) << '\n';
    std::cout << '\n';
}

int sessionSearch(Invocation& inv) {
    const Regex validated(inv.arg(0), inv.flag("ignore-case"));  // a usage error before any work
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
        regexes.push_back(std::make_unique<Regex>(inv.arg(0), inv.flag("ignore-case")));
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
        auto searched = searchRecording(file, *job.row, *regexes[worker],
                                        static_cast<std::size_t>(context), own);
        if (searched) searched->seal = seal;
        return searched;
    };

    json results = json::array();
    std::size_t searchedRecordings = 0;
    std::size_t unsealed = 0;  // recordings read that do not match their seal, or unreadable
    Progress progress("searched", "sessions", sessions.size());
    OrderedWorkers workers(jobs, threads, work);
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
