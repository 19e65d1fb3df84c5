#include "recording/sftp_handshake.hpp"

#include <cstdint>

#include "recording/sftp_inspector.hpp"

namespace portcullis::recording {

SftpStart sftpStart(std::string_view bytes) {
    constexpr std::size_t kInitHeader = 9;  // length, type, version
    constexpr unsigned char kFxpInit = 1;
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    // Compare what is there; a mismatch in the first bytes already says no.
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < 4 && i < bytes.size(); ++i) length = length << 8 | byte(i);
    if (bytes.size() >= 1 && byte(0) != 0) return SftpStart::no;  // INIT is far below 16 MiB
    if (bytes.size() >= 5 && byte(4) != kFxpInit) return SftpStart::no;
    if (bytes.size() < 4) return SftpStart::needMore;
    if (length < 5 || length > SftpInspector::kMaxPacket) return SftpStart::no;
    if (bytes.size() < kInitHeader) return SftpStart::needMore;
    return SftpStart::yes;
}

void SftpStartDetector::input(std::string_view bytes) {
    if (decided()) return;
    head_.append(bytes.substr(0, 16));
    verdict_ = sftpStart(head_);
}

}  // namespace portcullis::recording
