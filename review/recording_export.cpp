#include "review/recording_export.hpp"

#include <algorithm>
#include <string>

#include "recording/cast_writer.hpp"
#include "recording/display_text.hpp"
#include "recording/recording_meta.hpp"
#include "recording/screen_text.hpp"
#include "review/seal_check.hpp"
#include "review/typed_lines.hpp"

namespace portcullis::review {

using recording::RecordingEvent;

Result<recording::ReadSummary> recToCast(const std::filesystem::path& file, bool terminalSafe,
                                         const ChunkSink& sink) {
    const auto header = readRecordingHeader(file);
    if (!header) return makeError(header.error());
    const auto write = [&](const std::string& lines) {
        sink(terminalSafe ? recording::terminalSafeJson(lines) : lines);
    };
    write(recording::castHeaderLine(recording::metaFromHeader(*header)));
    recording::CastStreamEncoder stdoutEncoder('o'), stderrEncoder('o'), stdinEncoder('i');
    const auto encoderOf = [&](char stream) -> recording::CastStreamEncoder* {
        if (stream == 'o') return &stdoutEncoder;
        if (stream == 'e') return &stderrEncoder;
        if (stream == 'i') return &stdinEncoder;
        return nullptr;
    };
    std::int64_t lastUs = 0;
    auto summary = recording::readRecording(file, [&](const RecordingEvent& e) {
        lastUs = std::max(lastUs, e.elapsedUs);
        if (auto* encoder = encoderOf(e.stream)) write(encoder->encode(lastUs, e.data));
        return true;
    });
    for (auto* encoder : {&stdoutEncoder, &stderrEncoder, &stdinEncoder}) {
        write(encoder->finish(lastUs));
    }
    return summary;
}

Result<recording::ReadSummary> recordingText(const std::filesystem::path& file,
                                             recording::Format format, std::optional<char> stream,
                                             const ChunkSink& sink) {
    // The terminal's width: the header's (then each resize) for a terminal
    // recording; none for a .rec, whose output went to no terminal.
    std::size_t width = 0;
    if (format == recording::Format::cast) {
        const auto header = readRecordingHeader(file);
        if (!header) return makeError(header.error());
        width = static_cast<std::size_t>(std::max(recording::metaFromHeader(*header).width, 0));
    }
    recording::ScreenText screen(width);
    TypedLines typed(format == recording::Format::cast ? TypedLines::Mode::terminal
                                                       : TypedLines::Mode::data);
    const bool input = stream == 'i';
    auto summary = recording::readRecording(file, [&](const RecordingEvent& e) {
        if (e.stream == 'r') {
            if (const auto columns = recording::columnsOfResize(e.data)) screen.setWidth(columns);
        } else if (input) {
            // The output tells whether the terminal echoed what was typed.
            if (e.stream == 'i') sink(TypedLines::text(typed.input(e.data, e.elapsedUs)));
            if (e.stream == 'o') sink(TypedLines::text(typed.output(e.data, e.elapsedUs)));
        } else if (stream ? e.stream == *stream : (e.stream == 'o' || e.stream == 'e')) {
            sink(screen.feed(e.data));
        }
        return true;
    });
    sink(input ? TypedLines::text(typed.finish()) : screen.finish());
    return summary;
}

Result<recording::ReadSummary> rawStream(const std::filesystem::path& file, char stream,
                                         const ChunkSink& sink) {
    return recording::readRecording(file, [&](const RecordingEvent& e) {
        if (e.stream == stream) sink(e.data);
        return true;
    });
}

}  // namespace portcullis::review
