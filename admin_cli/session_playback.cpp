// portcullis session play / export: a recording replayed on the terminal with
// its timing, or written out as asciicast v2, plain text or one stream's exact
// bytes. Both read the file event by event (recordings can be gigabytes).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "common/unique_fd.hpp"
#include "db/recordings.hpp"
#include "recording/display_text.hpp"
#include "recording/recording_meta.hpp"
#include "recording/recording_reader.hpp"
#include "review/playback_clock.hpp"
#include "review/recording_export.hpp"
#include "review/seal_check.hpp"
#include "review/sftp_operations.hpp"
#include "review/terminal_filter.hpp"

namespace portcullis::cli {

using review::AuditedSeals;
using review::checkSeal;
using review::isSftpChannel;
using review::readRecordingHeader;
using review::SealCheck;
using review::sealWarning;
using review::sftpOperationLine;
using review::sftpOperations;
using review::SftpOperationView;
using review::stateCode;
using review::TerminalFilter;
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using recording::Format;
using recording::RecordingEvent;
using Clock = std::chrono::steady_clock;
using Micros = std::chrono::microseconds;

constexpr std::size_t kSinkBuffer = 64 * 1024;
constexpr double kMaxSpeed = 1e6;

// ---- output -----------------------------------------------------------------

// Buffered writes to a file descriptor; a failed write is a Failure.
class ByteSink {
  public:
    ByteSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    ~ByteSink() = default;
    ByteSink(const ByteSink&) = delete;
    ByteSink& operator=(const ByteSink&) = delete;

    void write(std::string_view bytes) {
        written_ += bytes.size();
        if (buffer_.size() + bytes.size() > kSinkBuffer) flush();
        if (bytes.size() > kSinkBuffer) {
            writeAll(bytes);
        } else {
            buffer_.append(bytes);
        }
    }
    void flush() {
        writeAll(buffer_);
        buffer_.clear();
    }
    std::uint64_t written() const { return written_; }

  private:
    void writeAll(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                throw Failure("cannot write to " + name_ + ": " + std::strerror(errno) +
                              " (check the disk space or the reader of the pipe)");
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    int fd_;
    std::string name_;
    std::string buffer_;
    std::uint64_t written_ = 0;
};

// Where `export` writes: -o FILE (created 0600: recordings are sensitive) or
// stdout. A file left half-written by a failure is removed.
class ExportTarget {
  public:
    explicit ExportTarget(const std::optional<std::string>& file)
        : path_(file && *file != "-" ? fs::path(*file) : fs::path()),
          fd_(path_.empty()
                  ? -1
                  : ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)),
          sink_(path_.empty() ? STDOUT_FILENO : fd_.get(),
                path_.empty() ? "standard output" : path_.string()) {
        if (!path_.empty() && fd_.get() < 0) {
            throw Failure("cannot create " + path_.string() + ": " + std::strerror(errno) +
                          " (choose another -o FILE)");
        }
    }
    ~ExportTarget() {
        if (!path_.empty() && !committed_) {
            std::error_code ignored;
            fs::remove(path_, ignored);
        }
    }
    ExportTarget(const ExportTarget&) = delete;
    ExportTarget& operator=(const ExportTarget&) = delete;

    ByteSink& sink() { return sink_; }
    bool toFile() const { return !path_.empty(); }
    const fs::path& path() const { return path_; }
    bool toTerminal() const { return path_.empty() && isTerminal(STDOUT_FILENO); }

    void commit() {
        sink_.flush();
        if (toFile() && ::close(fd_.release()) != 0) {
            throw Failure("cannot write " + path_.string() + ": " + std::strerror(errno));
        }
        committed_ = true;
    }

  private:
    fs::path path_;
    UniqueFd fd_;
    ByteSink sink_;
    bool committed_ = false;
};

// One recording of one session, ready to read, with its seal checked.
struct Source {
    db::SessionRecord session;
    db::RecordingRow row;
    fs::path file;
    Format format = Format::cast;
    SealCheck seal;
    // An sftp channel: its file operations (from the audit), which play and
    // export --format text show instead of the binary SFTP stream.
    bool sftp = false;
    std::vector<SftpOperationView> sftpOperations;
};

// The recording to review. Its seal is checked before it is read, and a
// mismatch is said on stderr at once (a missing file is a Failure).
Source openSource(Invocation& inv) {
    const std::optional<int> channel = channelOption(inv);
    Store store(inv.globals());
    Source s;
    s.session = requireSession(store.db(), inv.arg(0));
    const auto rows = db::Recordings(store.db()).forSession(s.session.id);
    s.row = chooseRecording(s.session, rows, channel);
    if (isSftpChannel(s.row)) {
        s.sftp = true;
        s.sftpOperations = sftpOperations(store.audit(), rows, s.row);
    }
    s.file = requireRecordingFile(store.dir(), s.row);
    s.format = require(recording::formatOf(s.file));
    s.seal = checkSeal(store.dir(), s.row, s.session.status == "active",
                       AuditedSeals::load(store.audit(), s.session.id));
    if (const auto warning = sealWarning(s.row, s.seal); !warning.empty()) printError(warning);
    return s;
}

// The reader's verdict: a malformed file is a Failure; a cut-off end is a warning.
void finishReading(const Source& source, const Result<recording::ReadSummary>& summary) {
    if (!summary) {
        throw Failure(source.file.string() + ": " + summary.error() +
                      " (run `portcullis session verify " + source.session.id + "`)");
    }
    if (summary->truncated) {
        printError("warning: " + source.file.string() + " ends inside an event (" +
                   summary->problem +
                   "); everything before it was used (run `portcullis session "
                   "verify " +
                   source.session.id + "`)");
    }
}

// The operations list of an sftp channel, as play and export --format text show it.
void writeSftpOperations(const Source& source, ByteSink& sink) {
    const std::string where = "session " + recording::displayText(source.session.id) + " channel " +
                              std::to_string(source.row.channel);
    sink.write(where + ": sftp, " + std::to_string(source.sftpOperations.size()) +
               " file operation(s) (from the audit chain; the SFTP stream itself: `portcullis "
               "session export " +
               recording::displayText(source.session.id) + " --channel " +
               std::to_string(source.row.channel) + " --format raw --stream i -o FILE`)\n");
    for (const auto& op : source.sftpOperations) sink.write("  " + sftpOperationLine(op) + "\n");
}

// ---- play -------------------------------------------------------------------

// Ctrl-C and the other stop signals are held back while playing and waited for instead of
// sleeping, so a pause between two events ends as soon as one arrives and
// playback stops cleanly between events.
class StopSignals {
  public:
    StopSignals() {
        sigemptyset(&set_);
        // Ctrl-C, Ctrl-\, Ctrl-Z, a kill and a closed terminal all stop playback
        // cleanly, so that the terminal is restored before anything else runs.
        for (const int s : {SIGINT, SIGTERM, SIGQUIT, SIGTSTP, SIGHUP}) sigaddset(&set_, s);
        ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    ~StopSignals() {
        // Consume what arrived so that unblocking does not kill us now.
        const timespec zero{};
        while (::sigtimedwait(&set_, nullptr, &zero) > 0) {
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Waits until `deadline` unless a stop signal comes; true when stopped.
    bool waitUntil(Clock::time_point deadline) {
        while (!stopped_) {
            const auto left = deadline - Clock::now();
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            const timespec timeout{static_cast<time_t>(std::max<std::int64_t>(ns, 0) / 1000000000),
                                   static_cast<long>(std::max<std::int64_t>(ns, 0) % 1000000000)};
            if (::sigtimedwait(&set_, nullptr, &timeout) > 0) {
                stopped_ = true;
            } else if (errno == EAGAIN || ns <= 0) {
                break;
            }
        }
        return stopped_;
    }
    bool stopped() { return waitUntil(Clock::now()); }

  private:
    sigset_t set_{};
    sigset_t old_{};
    bool stopped_ = false;
};

// --speed: a positive factor ("2", "0.5", "10x").
double requireSpeed(std::string text) {
    if (text.ends_with('x')) text.pop_back();
    double speed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), speed);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(speed) ||
        speed <= 0 || speed > kMaxSpeed) {
        throw UsageError("--speed: expected a factor above 0 such as 2 or 0.5, got `" + text + "`");
    }
    return speed;
}

// --idle-limit: DUR ("2s", "1m") or seconds with a fraction ("0.5", "1.5s").
Micros requireIdleLimit(const std::string& text) {
    if (const auto d = parseDuration(text)) return std::chrono::duration_cast<Micros>(*d);
    std::string_view number = text;
    if (number.ends_with('s')) number.remove_suffix(1);
    double seconds = -1;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
    if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(seconds) ||
        seconds < 0 || seconds > 1e9) {
        throw UsageError("--idle-limit: expected a duration such as 2s, 0.5 or 1m, got `" + text +
                         "`");
    }
    return Micros(static_cast<std::int64_t>(seconds * 1e6));
}

void playOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("speed", "play this many times faster (0.5: slower)",
         cxxopts::value<std::string>()->default_value("1"), "X")
        ("idle-limit", "shorten every pause to at most this (default: the recording's "
         "idle_time_limit, else none)", cxxopts::value<std::string>(), "DUR")
        ("channel", "the channel to play (default: the first)", cxxopts::value<std::string>(),
         "N");
    // clang-format on
}

std::string terminalNote(const Source& source, const json& header) {
    const auto meta = recording::metaFromHeader(header);
    // Names come from the store and the client: shown with controls and
    // invisible characters escaped.
    std::string note =
        "playing session " + recording::displayText(source.session.id) + " channel " +
        std::to_string(source.row.channel) + " (" + recording::displayText(source.session.account) +
        " as " + recording::displayText(source.session.login) + "@" +
        recording::displayText(source.session.target) + ", " + std::to_string(meta.width) + "x" +
        std::to_string(meta.height) + "); Ctrl-C stops";
    winsize size{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 &&
        size.ws_col < meta.width) {
        note += "\nportcullis: this terminal has " + std::to_string(size.ws_col) +
                " columns, the recording " + std::to_string(meta.width) +
                ": widen it to see the screen as it was";
    }
    return note;
}

// However playback ends (the end of the recording, a stop signal, a read or
// write failure), a terminal gets the filter's restore sequence, so that no
// mode the recording set outlives it.
class TerminalRestore {
  public:
    TerminalRestore(bool terminal, TerminalFilter& filter, ByteSink& out)
        : terminal_(terminal), filter_(filter), out_(out) {}
    ~TerminalRestore() {
        try {
            now();
        } catch (...) {
            // the terminal went away: nothing left to restore
        }
    }
    TerminalRestore(const TerminalRestore&) = delete;
    TerminalRestore& operator=(const TerminalRestore&) = delete;

    void now() {
        if (done_) return;
        done_ = true;
        out_.write(filter_.finish());
        if (terminal_) out_.write(filter_.restoreSequence());
        out_.flush();
    }

  private:
    bool terminal_;
    TerminalFilter& filter_;
    ByteSink& out_;
    bool done_ = false;
};

int sessionPlay(Invocation& inv) {
    const double speed = requireSpeed(inv.optionOr("speed"));
    std::optional<Micros> idleLimit;
    if (const auto text = inv.option("idle-limit")) idleLimit = requireIdleLimit(*text);
    const Source source = openSource(inv);
    if (source.sftp) {
        // Binary protocol, nothing a terminal should show: the files it moved.
        ByteSink out(STDOUT_FILENO, "standard output");
        writeSftpOperations(source, out);
        out.flush();
        return kExitOk;
    }
    const json header = require(readRecordingHeader(source.file));
    if (!idleLimit && header.contains("idle_time_limit") && header["idle_time_limit"].is_number() &&
        header["idle_time_limit"].get<double>() >= 0) {
        idleLimit =
            Micros(static_cast<std::int64_t>(header["idle_time_limit"].get<double>() * 1e6));
    }
    const bool terminal = isTerminal(STDOUT_FILENO);
    if (terminal && isTerminal(STDERR_FILENO)) printError(terminalNote(source, header));

    ByteSink out(STDOUT_FILENO, "standard output");
    TerminalFilter filter;
    StopSignals stop;
    TerminalRestore restore(terminal, filter, out);  // runs while stop signals are still held
    review::PlaybackClock clock(speed, idleLimit);
    const auto start = Clock::now();
    const auto summary = recording::readRecording(source.file, [&](const RecordingEvent& e) {
        if (e.stream != 'o' && e.stream != 'e') return !stop.stopped();  // input, resize
        const auto deadline = start + clock.due(e.elapsedUs);
        if (deadline > Clock::now()) out.flush();
        if (stop.waitUntil(deadline)) return false;
        out.write(filter.filter(e.data));
        return true;
    });
    restore.now();
    if (stop.stopped()) {
        if (terminal) out.write("\r\n");
        out.flush();
        printError("playback stopped");
        return kExitOk;
    }
    finishReading(source, summary);
    return kExitOk;
}

// ---- export -----------------------------------------------------------------

void exportOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("format", "cast (asciicast v2), text (what the screen showed) or raw (one stream's "
         "bytes)", cxxopts::value<std::string>()->default_value("cast"), "F")
        ("stream", "raw: the stream, i (input), o (output) or e (stderr, .rec only); text: only "
         "this stream (i: the lines typed)", cxxopts::value<std::string>(), "S")
        ("channel", "the channel to export (default: the first)", cxxopts::value<std::string>(),
         "N")
        ("o,output", "write to FILE (mode 0600) instead of standard output",
         cxxopts::value<std::string>(), "FILE");
    // clang-format on
}

// The .cast as it is; to a terminal, line by line with the characters a
// terminal would act on (C1 controls, U+202E...) written as JSON escapes.
void copyFile(const Source& source, ByteSink& sink, bool terminal) {
    std::ifstream in(source.file, std::ios::binary);
    if (!in) throw Failure("cannot read " + source.file.string() + ": " + std::strerror(errno));
    if (terminal) {
        for (std::string line; std::getline(in, line);) {
            sink.write(recording::terminalSafeJson(line));
            if (!in.eof()) sink.write("\n");
        }
    } else {
        std::string buffer(kSinkBuffer, '\0');
        while (in) {
            in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            sink.write(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
        }
    }
    if (in.bad()) throw Failure("cannot read " + source.file.string());
}

// A .rec as asciicast v2 (review/recording_export.hpp).
void recToCast(const Source& source, ByteSink& sink, bool terminal) {
    require(readRecordingHeader(source.file));
    finishReading(source, review::recToCast(source.file, terminal,
                                            [&](std::string_view bytes) { sink.write(bytes); }));
}

void exportText(const Source& source, std::optional<char> stream, ByteSink& sink) {
    if (source.format == Format::cast) require(readRecordingHeader(source.file));
    finishReading(source,
                  review::recordingText(source.file, source.format, stream,
                                        [&](std::string_view bytes) { sink.write(bytes); }));
}

void exportRaw(const Source& source, char stream, ByteSink& sink) {
    if (source.format == Format::cast && stream == 'e') {
        throw Failure("channel " + std::to_string(source.row.channel) +
                      " is a terminal recording (.cast): the target's stderr is part of its "
                      "output there; use --stream o");
    }
    finishReading(source, review::rawStream(source.file, stream,
                                            [&](std::string_view bytes) { sink.write(bytes); }));
}

int sessionExport(Invocation& inv) {
    const std::string format = inv.optionOr("format");
    if (format != "cast" && format != "text" && format != "raw") {
        throw UsageError("--format: expected cast, text or raw, got `" + format + "`");
    }
    std::optional<char> stream;
    if (const auto text = inv.option("stream")) {
        if (*text != "i" && *text != "o" && *text != "e") {
            throw UsageError("--stream: expected i (input), o (output) or e (stderr), got `" +
                             *text + "`");
        }
        stream = text->front();
    }
    if (format == "raw" && !stream) {
        throw UsageError("--format raw needs --stream i, o or e (the bytes of one stream)");
    }
    if (format == "cast" && stream) {
        throw UsageError(
            "--stream goes with --format raw or text (an asciicast holds every "
            "stream)");
    }
    const Source source = openSource(inv);
    const auto output = inv.option("output");
    std::error_code ec;
    if (output && *output != "-" && fs::equivalent(*output, source.file, ec)) {
        throw Failure("-o " + *output + " is the recording itself: choose another file");
    }
    ExportTarget target(output);
    if (format == "raw" && target.toTerminal()) {
        throw Failure(
            "refusing to write raw recorded bytes to a terminal (binary data and escape "
            "sequences): add -o FILE or pipe the output");
    }
    if (format == "cast" && source.format == Format::cast) {
        copyFile(source, target.sink(), target.toTerminal());
    } else if (format == "cast") {
        recToCast(source, target.sink(), target.toTerminal());
    } else if (format == "text" && source.sftp) {
        writeSftpOperations(source, target.sink());
    } else if (format == "text") {
        exportText(source, stream, target.sink());
    } else {
        exportRaw(source, *stream, target.sink());
    }
    target.commit();
    if (target.toFile()) {
        if (inv.json()) {
            printJson({{"session_id", source.session.id},
                       {"channel", source.row.channel},
                       {"format", format},
                       {"stream", stream ? json(std::string(1, *stream)) : json()},
                       {"file", target.path().string()},
                       {"bytes", target.sink().written()},
                       {"seal", stateCode(source.seal.state)}});
        } else {
            std::cout << "exported session " << source.session.id << " channel "
                      << source.row.channel << " (" << format << ", " << target.sink().written()
                      << " bytes) to " << target.path().string() << '\n';
        }
    }
    if (source.seal.problem()) {
        printError(
            "exported, but the recording does not match its seal (see the warning "
            "above): exit 1");
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> sessionPlaybackCommands() {
    return {
        {.path = "session play",
         .usage = "ID [--speed X] [--idle-limit DUR] [--channel N]",
         .summary = "replay a recording's output with its timing (Ctrl-C stops)",
         .run = sessionPlay,
         .options = playOptions,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "session export",
         .usage = "ID [--format cast|text|raw] [--stream i|o|e] [--channel N] [-o FILE]",
         .summary = "a recording as asciicast v2, plain text, or one stream's exact bytes",
         .run = sessionExport,
         .options = exportOptions,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
