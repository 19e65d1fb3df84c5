#include "review/recording_search.hpp"

#include <algorithm>
#include <utility>

#include "recording/recording_meta.hpp"
#include "recording/recording_reader.hpp"
#include "recording/screen_text.hpp"
#include "recording/sftp_handshake.hpp"

namespace portcullis::review {

namespace fs = std::filesystem;
using recording::RecordingEvent;

Result<std::unique_ptr<Regex>> Regex::compile(const std::string& pattern, bool ignoreCase) {
    auto regex = std::make_unique<Regex>(Compiled{});
    const int flags = REG_EXTENDED | REG_NOSUB | (ignoreCase ? REG_ICASE : 0);
    if (const int rc = ::regcomp(&regex->regex_, pattern.c_str(), flags); rc != 0) {
        char message[256];
        ::regerror(rc, &regex->regex_, message, sizeof message);
        return makeError("REGEX `" + pattern + "`: " + message +
                         " (POSIX extended syntax, as grep -E)");
    }
    regex->compiled_ = true;
    return regex;
}

Regex::~Regex() {
    if (compiled_) ::regfree(&regex_);
}

bool Regex::matches(const std::string& line) const {
    return ::regexec(&regex_, line.c_str(), 0, nullptr, 0) == 0;
}

namespace {

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

}  // namespace

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

}  // namespace portcullis::review
