#pragma once
// The syslog copy of every audit event (SPEC §7: facility authpriv, ident
// "portcullis", RFC 3164 over the local socket, /dev/log by default), made
// for what a SIEM and the relays before it (rsyslog's default 8 KiB message
// limit) do with it:
//   - the JSON line starts with the fields a SIEM indexes: id, ts, type,
//     actor, result (details.result, null when the event has none), then
//     source, details, prev_hash, hash;
//   - a detail string longer than kMaxDetailString is cut, keeping its head
//     and naming its length and SHA-256 ("...[cut: 20896 bytes, sha256 HEX]"),
//     and the whole message stays under kMaxMessage bytes (when many fields
//     are long, details become {"cut": true, "length": N, "sha256": HEX} of
//     their canonical JSON, which audit.log and the store still hold whole);
//   - a send waits at most kSendTimeout for room in a full socket (it runs on
//     store worker threads, never event threads); after a timeout, sends do
//     not wait again for kBackoff. A copy that could not be sent is counted:
//     takeDropped() hands the count to whoever reports it (portcullisd's log
//     and an audit.syslog_dropped event).
// Thread-safe: the gateway's store workers share one sink. No process-wide
// state (no openlog()).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

namespace portcullis::db {

struct AuditRecord;
struct AuditHead;

class SyslogSink {
  public:
    static constexpr std::size_t kMaxMessage = 2048;  // the whole datagram, header included
    static constexpr std::size_t kMaxDetailString = 256;
    static constexpr std::chrono::milliseconds kSendTimeout{100};
    static constexpr std::chrono::seconds kBackoff{1};
    static constexpr const char* kDefaultSocket = "/dev/log";

    explicit SyslogSink(std::filesystem::path socket = kDefaultSocket);

    // Sends one event's copy; never throws. False when it was dropped.
    bool send(const AuditRecord& record);
    // The head of the chain, as the anchor a SIEM keeps (SPEC §15): one
    // `audit.checkpoint` line with the newest event's id and hash; `when` is
    // "start", "periodic" or "stop". False when it was dropped.
    bool sendCheckpoint(const AuditHead& head, const std::string& gateway, const std::string& when);
    // The copies dropped since the last call (and the last reason, for the log).
    std::uint64_t takeDropped();
    std::string lastError() const;

    // The JSON line as sent: ordered, cut, at most `budget` bytes when it can be.
    static std::string formatLine(const AuditRecord& record, std::size_t budget = kMaxMessage - 64);

  private:
    static std::string header();
    bool sendMessage(const std::string& message);
    bool deliver(const std::string& message, bool wait);
    void dropped(const std::string& why);

    std::filesystem::path socket_;
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::int64_t> noWaitUntilNs_{0};  // steady clock: after a timeout
    mutable std::mutex errorMutex_;
    std::string lastError_;
};

}  // namespace portcullis::db
