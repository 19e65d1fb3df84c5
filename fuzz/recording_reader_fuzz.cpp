// Reading recordings back (session show/play/export/search/verify): a file in
// recordings/ may be cut short by a crash, or edited. The input is the file,
// read both as asciicast (.cast) and as the binary-safe .rec format.
// Then the writers' side: the input as a session's bytes, written as both
// formats by the gateway's own writers and read back, must come back exactly
// (.rec) or as the same valid UTF-8 text (.cast), frame by frame.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "recording/cast_writer.hpp"
#include "recording/rec_format.hpp"
#include "recording/recording_meta.hpp"
#include "recording/recording_reader.hpp"
#include "recording/utf8_text.hpp"

namespace {

using namespace portcullis::recording;

struct Files {
    portcullis::fuzz::ScratchDir scratch;
    std::filesystem::path cast = scratch.path() / "fuzz.cast";
    std::filesystem::path rec = scratch.path() / "fuzz.rec";
    std::filesystem::path writtenCast = scratch.path() / "written.cast";
    std::filesystem::path writtenRec = scratch.path() / "written.rec";
};

std::vector<RecordingEvent> readAll(const std::filesystem::path& file) {
    std::vector<RecordingEvent> events;
    const auto summary = readRecording(file, [&](const RecordingEvent& event) {
        events.push_back(event);
        return true;
    });
    FUZZ_CHECK_MSG(summary, summary ? std::string() : summary.error());
    FUZZ_CHECK(!summary->truncated);
    return events;
}

// The input as the bytes of one session, cut into reads, streams and times
// taken from the input itself, through the writers and back.
void roundTrip(const Files& files, std::string_view bytes) {
    RecordingMeta meta;
    meta.sessionId = "fuzz";
    meta.kind = "exec";
    meta.command = std::string(bytes.substr(0, 40));
    std::string cast = castHeaderLine(meta);
    std::string rec = recHeaderLine(meta);
    std::vector<RecordingEvent> frames;
    CastStreamEncoder output('o');
    std::string castText;
    std::int64_t elapsedUs = 0;
    portcullis::fuzz::Splitter splitter(bytes, 1 + bytes.size() % 97);
    while (!splitter.done()) {
        const std::string_view chunk = splitter.next();
        const auto first = static_cast<unsigned char>(chunk[0]);
        elapsedUs += first * 1000003LL;
        const char stream = "ioe"[first % 3];
        rec += recFrame(elapsedUs, stream, chunk);
        frames.push_back({elapsedUs, stream, std::string(chunk)});
        cast += output.encode(elapsedUs, chunk);
    }
    cast += output.finish(elapsedUs);
    portcullis::fuzz::writeFile(files.writtenRec, rec);
    portcullis::fuzz::writeFile(files.writtenCast, cast);

    const auto recEvents = readAll(files.writtenRec);
    FUZZ_CHECK(recEvents.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
        FUZZ_CHECK(recEvents[i].elapsedUs == frames[i].elapsedUs);
        FUZZ_CHECK(recEvents[i].stream == frames[i].stream);
        FUZZ_CHECK(recEvents[i].data == frames[i].data);
    }
    std::string text;
    std::int64_t lastUs = 0;
    for (const auto& event : readAll(files.writtenCast)) {
        FUZZ_CHECK(event.stream == 'o');
        FUZZ_CHECK(event.elapsedUs >= lastUs && event.elapsedUs <= elapsedUs);
        lastUs = event.elapsedUs;
        text += event.data;
    }
    FUZZ_CHECK_MSG(text == detail::toValidUtf8(bytes), text);
}

void read(const std::filesystem::path& file, Format format, std::size_t size) {
    std::int64_t delivered = 0;
    std::size_t bytes = 0;
    const auto summary = readRecording(file, [&](const RecordingEvent& event) {
        ++delivered;
        FUZZ_CHECK(event.elapsedUs >= 0);
        bytes += event.data.size();
        if (format == Format::rec) {
            FUZZ_CHECK(event.stream == 'i' || event.stream == 'o' || event.stream == 'e');
        }
        return delivered < 100000;
    });
    if (!summary) {
        FUZZ_CHECK(!summary.error().empty());
        return;
    }
    FUZZ_CHECK(summary->events == delivered);
    FUZZ_CHECK(summary->truncated == !summary->problem.empty());
    FUZZ_CHECK(summary->header.is_object());
    // A .rec payload is the file's bytes: never more than the file.
    if (format == Format::rec) FUZZ_CHECK(bytes <= size);
    // The header as the CLI reads it, whatever the types of its fields.
    const RecordingMeta meta = metaFromHeader(summary->header);
    (void)meta;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Files kFiles;
    const std::string_view bytes = portcullis::fuzz::asText(data, size);
    portcullis::fuzz::writeFile(kFiles.cast, bytes);
    portcullis::fuzz::writeFile(kFiles.rec, bytes);
    read(kFiles.cast, Format::cast, size);
    read(kFiles.rec, Format::rec, size);
    roundTrip(kFiles, bytes);
    return 0;
}
