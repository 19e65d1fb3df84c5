#include "recording/rec_format.hpp"

namespace portcullis::recording {

std::string recHeaderLine(const RecordingMeta& meta) {
    nlohmann::json header = headerJson(meta);
    // Tells a .rec apart from a .cast even when renamed: readers check it.
    header["format"] = "rec";
    return header.dump() + "\n";
}

std::string recFrameHeader(std::int64_t elapsedUs, char stream, std::size_t length) {
    if (elapsedUs < 0) elapsedUs = 0;  // a clock step back must not make a malformed frame
    std::string line = std::to_string(elapsedUs);
    line += ' ';
    line += stream;
    line += ' ';
    line += std::to_string(length);
    line += '\n';
    return line;
}

std::string recFrame(std::int64_t elapsedUs, char stream, std::string_view bytes) {
    std::string frame = recFrameHeader(elapsedUs, stream, bytes.size());
    frame.append(bytes);
    frame += '\n';
    return frame;
}

}  // namespace portcullis::recording
