#include "recording/recording_reader.hpp"
#include "common/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>
#include <vector>

namespace portcullis::recording {

namespace {

// Bounds that keep a corrupt or hostile file from making the reader allocate
// without limit; the gateway writes far smaller lines and frames.
constexpr std::size_t kMaxLine = 64u << 20;
constexpr std::size_t kMaxFrame = 256u << 20;
constexpr std::size_t kMaxFrameHeader = 64;  // "<int64> <c> <size_t>" fits easily
constexpr double kMaxSeconds = 1e12;         // keeps microseconds inside int64

// Buffered reading that knows its byte offset and whether a line ended.
class Input {
  public:
    explicit Input(int fd) : fd_(fd), buffer_(1u << 16) {}

    enum class Line { complete, partial, end, tooLong };
    // The next line without its "\n": complete; partial (the file ends first,
    // `line` holds what there was); end (nothing left); tooLong (over `max`).
    Line readLine(std::string& line, std::size_t max) {
        line.clear();
        for (;;) {
            if (pos_ == end_ && !fill()) return line.empty() ? Line::end : Line::partial;
            const char* start = buffer_.data() + pos_;
            const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
            const std::size_t n = newline ? static_cast<std::size_t>(newline - start) : end_ - pos_;
            if (line.size() + n > max) return Line::tooLong;
            line.append(start, n);
            advance(n);
            if (newline) {
                advance(1);
                return Line::complete;
            }
        }
    }

    // Appends up to n bytes to `out`; fewer only when the file ends.
    std::size_t read(std::string& out, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            if (pos_ == end_ && !fill()) break;
            const std::size_t take = std::min(n - got, end_ - pos_);
            out.append(buffer_.data() + pos_, take);
            advance(take);
            got += take;
        }
        return got;
    }

    // The next byte, or -1 at the end of the file.
    int get() {
        if (pos_ == end_ && !fill()) return -1;
        const auto c = static_cast<unsigned char>(buffer_[pos_]);
        advance(1);
        return c;
    }

    std::uint64_t offset() const { return offset_; }
    // Set when a read(2) failed (the end of data is then not the end of file).
    const std::string& failure() const { return failure_; }

  private:
    bool fill() {
        if (!failure_.empty()) return false;
        for (;;) {
            const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                failure_ = std::error_code(errno, std::generic_category()).message();
                return false;
            }
            pos_ = 0;
            end_ = static_cast<std::size_t>(n);
            return n > 0;
        }
    }
    void advance(std::size_t n) {
        pos_ += n;
        offset_ += n;
    }

    int fd_;
    std::vector<char> buffer_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    std::uint64_t offset_ = 0;
    std::string failure_;
};

std::string lineError(std::int64_t line, const std::string& what) {
    return "line " + std::to_string(line) + ": " + what;
}
std::string offsetError(std::uint64_t offset, const std::string& what) {
    return "offset " + std::to_string(offset) + ": " + what;
}

// Line 1 of both formats: a JSON object.
Result<nlohmann::json> readHeader(Input& in) {
    std::string line;
    const Input::Line kind = in.readLine(line, kMaxLine);
    if (!in.failure().empty()) return makeError("read error: " + in.failure());
    switch (kind) {
        case Input::Line::end:
            return makeError(lineError(1, "empty file, no header"));
        case Input::Line::tooLong:
            return makeError(lineError(1, "header line too long"));
        case Input::Line::partial:
            return makeError(lineError(1, "header cut off (no newline after it)"));
        case Input::Line::complete:
            break;
    }
    nlohmann::json header = nlohmann::json::parse(line, nullptr, false);
    if (header.is_discarded()) return makeError(lineError(1, "header is not valid JSON"));
    if (!header.is_object()) return makeError(lineError(1, "header is not a JSON object"));
    return header;
}

// One asciicast event line; an error says what is wrong with it.
Result<RecordingEvent> parseCastEvent(const std::string& line) {
    const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
    if (event.is_discarded()) return makeError("not valid JSON");
    if (!event.is_array() || event.size() != 3) {
        return makeError("not an event [time, code, data]");
    }
    if (!event[0].is_number()) return makeError("event time is not a number");
    const double seconds = event[0].get<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
        return makeError("event time out of range");
    }
    if (!event[1].is_string() || event[1].get_ref<const std::string&>().size() != 1) {
        return makeError("event code is not a one-letter string");
    }
    if (!event[2].is_string()) return makeError("event data is not a string");
    RecordingEvent out;
    out.elapsedUs = std::llround(seconds * 1e6);
    out.stream = event[1].get_ref<const std::string&>()[0];
    out.data = event[2].get<std::string>();
    return out;
}

Result<ReadSummary> readCast(Input& in, const std::function<bool(const RecordingEvent&)>& onEvent) {
    auto header = readHeader(in);
    if (!header) return makeError(header.error());
    ReadSummary summary;
    summary.header = std::move(*header);
    const auto version = summary.header.find("version");
    if (version == summary.header.end() || *version != 2) {
        return makeError(lineError(1, "not an asciicast v2 header (version is not 2)"));
    }
    if (const auto format = summary.header.find("format");
        format != summary.header.end() && *format == "rec") {
        return makeError(lineError(1, "this is a .rec recording, not asciicast"));
    }
    std::string line;
    for (std::int64_t number = 2;; ++number) {
        const Input::Line kind = in.readLine(line, kMaxLine);
        if (kind == Input::Line::end) break;
        if (kind == Input::Line::tooLong) return makeError(lineError(number, "line too long"));
        if (line.empty()) continue;  // a blank line carries nothing
        auto event = parseCastEvent(line);
        if (!event) {
            if (kind == Input::Line::partial) {
                // The writer ends every event with "\n": this one was cut off.
                summary.truncated = true;
                summary.problem = lineError(
                    number, "last event cut off after " + std::to_string(line.size()) + " bytes");
                break;
            }
            return makeError(lineError(number, event.error()));
        }
        ++summary.events;
        if (!onEvent(*event)) break;
        if (kind == Input::Line::partial) break;
    }
    if (!in.failure().empty()) return makeError("read error: " + in.failure());
    return summary;
}

// "<microseconds> <stream> <length>", all ASCII, nothing else.
Result<RecordingEvent> parseFrameHeader(const std::string& line, std::size_t& length) {
    const char* p = line.data();
    const char* end = p + line.size();
    RecordingEvent event;
    auto r = std::from_chars(p, end, event.elapsedUs);
    if (r.ec != std::errc{} || r.ptr == p || event.elapsedUs < 0) {
        return makeError("malformed frame header (time)");
    }
    p = r.ptr;
    if (end - p < 3 || p[0] != ' ' || p[2] != ' ') {
        return makeError("malformed frame header (stream)");
    }
    event.stream = p[1];
    if (event.stream != 'i' && event.stream != 'o' && event.stream != 'e') {
        return makeError("unknown stream in frame header");
    }
    p += 3;
    r = std::from_chars(p, end, length);
    if (r.ec != std::errc{} || r.ptr == p || r.ptr != end) {
        return makeError("malformed frame header (length)");
    }
    if (length > kMaxFrame) return makeError("frame length over the limit");
    return event;
}

Result<ReadSummary> readRec(Input& in, const std::function<bool(const RecordingEvent&)>& onEvent) {
    auto header = readHeader(in);
    if (!header) return makeError(header.error());
    ReadSummary summary;
    summary.header = std::move(*header);
    if (const auto format = summary.header.find("format");
        format != summary.header.end() && *format != "rec") {
        return makeError(lineError(1, "header says this is not a .rec recording"));
    }
    std::string line;
    RecordingEvent event;  // reused: its buffer keeps its capacity across frames
    for (;;) {
        const std::uint64_t frameOffset = in.offset();
        const Input::Line kind = in.readLine(line, kMaxFrameHeader);
        if (kind == Input::Line::end) break;
        if (kind == Input::Line::partial) {
            summary.truncated = true;
            summary.problem = offsetError(frameOffset, "last frame header cut off");
            break;
        }
        if (kind == Input::Line::tooLong) {
            return makeError(offsetError(frameOffset, "malformed frame header (too long)"));
        }
        std::size_t length = 0;
        auto parsed = parseFrameHeader(line, length);
        if (!parsed) return makeError(offsetError(frameOffset, parsed.error()));
        event.elapsedUs = parsed->elapsedUs;
        event.stream = parsed->stream;
        event.data.clear();
        const std::size_t got = in.read(event.data, length);
        if (got < length) {
            summary.truncated = true;
            summary.problem =
                offsetError(frameOffset, "last frame cut off: " + std::to_string(got) + " of " +
                                             std::to_string(length) + " bytes");
            break;
        }
        const int closing = in.get();
        if (closing < 0) {
            // Every byte is there; only the closing newline is missing.
            summary.truncated = true;
            summary.problem = offsetError(frameOffset, "last frame's closing newline missing");
            break;
        }
        if (closing != '\n') {
            return makeError(
                offsetError(frameOffset, "frame of " + std::to_string(length) +
                                             " bytes not followed by a newline (wrong length?)"));
        }
        ++summary.events;
        if (!onEvent(event)) break;
    }
    if (!in.failure().empty()) return makeError("read error: " + in.failure());
    return summary;
}

}  // namespace

Result<Format> formatOf(const std::filesystem::path& path) {
    const std::string extension = path.extension().string();
    if (extension == ".cast") return Format::cast;
    if (extension == ".rec") return Format::rec;
    return makeError(path.string() + ": not a recording (expected .cast or .rec)");
}

Result<ReadSummary> readRecording(const std::filesystem::path& path,
                                  const std::function<bool(const RecordingEvent&)>& onEvent) {
    const auto format = formatOf(path);
    if (!format) return makeError(format.error());
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        return makeError("cannot open " + path.string() + ": " +
                         std::error_code(errno, std::generic_category()).message());
    }
    Input in(fd.get());
    return *format == Format::cast ? readCast(in, onEvent) : readRec(in, onEvent);
}

}  // namespace portcullis::recording
