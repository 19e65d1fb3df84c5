#include "db/syslog.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "common/time_format.hpp"
#include "common/unique_fd.hpp"
#include "db/audit.hpp"

namespace portcullis::db {
namespace {

using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

constexpr const char* kIdent = "portcullis";
// A string in a message cut hard enough to fit keeps this much of its head.
constexpr std::size_t kShortString = 32;

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The first `max` bytes of `text`, not ending inside a UTF-8 character.
std::string head(const std::string& text, std::size_t max) {
    std::size_t end = std::min(max, text.size());
    while (end > 0 && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return text.substr(0, end);
}

std::string cutString(const std::string& text, std::size_t keep) {
    if (text.size() <= keep) return text;
    return head(text, keep) + "...[cut: " + std::to_string(text.size()) + " bytes, sha256 " +
           sha256Hex(text) + "]";
}

// Every string in `value` (not keys: those are ours) longer than `keep`, cut.
json cutStrings(const json& value, std::size_t keep) {
    if (value.is_string()) return cutString(value.get_ref<const std::string&>(), keep);
    if (value.is_array()) {
        json out = json::array();
        for (const auto& item : value) out.push_back(cutStrings(item, keep));
        return out;
    }
    if (value.is_object()) {
        json out = json::object();
        for (auto it = value.begin(); it != value.end(); ++it) {
            out[it.key()] = cutStrings(it.value(), keep);
        }
        return out;
    }
    return value;
}

ordered lineObject(const AuditRecord& r, const json& details, std::size_t keep) {
    const json& d = r.event.details;
    ordered o;
    o["id"] = r.id;
    o["ts"] = r.toJson()["ts"];
    o["type"] = cutString(r.event.type, keep);
    o["actor"] = cutString(r.event.actor, keep);
    json result;
    if (d.is_object() && d.contains("result")) {
        const json& value = d["result"];
        result =
            value.is_structured() ? json(cutString(dump(value), keep)) : cutStrings(value, keep);
    }
    o["result"] = result;
    o["source"] = cutString(r.event.source, keep);
    o["details"] = details;
    o["prev_hash"] = r.prevHash;
    o["hash"] = r.hash;
    return o;
}

std::string timestamp() {
    static constexpr std::array<const char*, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t now = std::time(nullptr);
    struct tm local {};
    ::localtime_r(&now, &local);
    char stamp[32];  // "Mmm dd hh:mm:ss", the day space-padded (locale-independent)
    std::snprintf(stamp, sizeof stamp, "%s %2d %02d:%02d:%02d",
                  kMonths[static_cast<std::size_t>(local.tm_mon) % 12], local.tm_mday,
                  local.tm_hour, local.tm_min, local.tm_sec);
    return stamp;
}

std::int64_t steadyNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

SyslogSink::SyslogSink(std::filesystem::path socket) : socket_(std::move(socket)) {}

std::string SyslogSink::formatLine(const AuditRecord& r, std::size_t budget) {
    // Long strings cut first; then shorter heads; then the details as a digest.
    for (const std::size_t keep : {kMaxDetailString, kShortString}) {
        std::string line = lineObject(r, cutStrings(r.event.details, keep), keep)
                               .dump(-1, ' ', false, json::error_handler_t::replace);
        if (line.size() <= budget) return line;
    }
    const std::string canonical = dump(r.event.details);
    const json digest = {
        {"cut", true}, {"length", canonical.size()}, {"sha256", sha256Hex(canonical)}};
    return lineObject(r, digest, kShortString).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool SyslogSink::send(const AuditRecord& record) {
    try {
        const std::string prefix = header();
        return sendMessage(
            prefix +
            formatLine(record, kMaxMessage - 1 - std::min(prefix.size(), kMaxMessage / 2)));
    } catch (const std::exception& e) {
        dropped(e.what());
        return false;
    }
}

bool SyslogSink::sendCheckpoint(const AuditHead& head, const std::string& gateway,
                                const std::string& when) {
    try {
        // Ordered like an event's copy: the fields a SIEM indexes first.
        const std::string line = "{\"id\":" + std::to_string(head.id) +
                                 ",\"ts\":" + nlohmann::json(formatIso8601(systemNow())).dump() +
                                 ",\"type\":\"audit.checkpoint\",\"actor\":\"portcullisd\"," +
                                 "\"result\":null,\"hash\":" + nlohmann::json(head.hash).dump() +
                                 ",\"gateway\":" + nlohmann::json(gateway).dump() +
                                 ",\"when\":" + nlohmann::json(when).dump() + "}";
        return sendMessage(header() + line);
    } catch (const std::exception& e) {
        dropped(e.what());
        return false;
    }
}

std::string SyslogSink::header() {
    return "<" + std::to_string(LOG_AUTHPRIV | LOG_INFO) + ">" + timestamp() + " " + kIdent + "[" +
           std::to_string(::getpid()) + "]: ";
}

bool SyslogSink::sendMessage(const std::string& message) {
    const bool wait = steadyNs() >= noWaitUntilNs_.load(std::memory_order_relaxed);
    return deliver(message, wait);
}

bool SyslogSink::deliver(const std::string& message, bool wait) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    const std::string path = socket_.string();
    if (path.size() >= sizeof addr.sun_path) {
        dropped("syslog socket path too long: " + path);
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const auto* sa = reinterpret_cast<const struct sockaddr*>(&addr);
    const auto setTimeout = [&](int fd) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(kSendTimeout);
        const timeval tv{static_cast<time_t>(us.count() / 1000000),
                         static_cast<suseconds_t>(us.count() % 1000000)};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    };
    const int flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);

    UniqueFd dgram(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (dgram.get() < 0) {
        dropped(std::string("socket: ") + std::strerror(errno));
        return false;
    }
    setTimeout(dgram.get());
    ssize_t sent = -1;
    do {
        sent = ::sendto(dgram.get(), message.data(), message.size(), flags, sa, sizeof addr);
    } while (sent < 0 && errno == EINTR);
    if (sent >= 0) return true;
    int error = errno;
    if (error == EPROTOTYPE) {
        // A stream-mode /dev/log (as glibc's syslog() also handles): NUL-terminated.
        UniqueFd stream(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (stream.get() >= 0) {
            setTimeout(stream.get());
            if (::connect(stream.get(), sa, sizeof addr) == 0 &&
                ::send(stream.get(), message.c_str(), message.size() + 1, flags) ==
                    static_cast<ssize_t>(message.size() + 1)) {
                return true;
            }
        }
        error = errno;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
        // Full: do not wait again for a while (bursts must not stall the store workers).
        noWaitUntilNs_.store(
            steadyNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(kBackoff).count(),
            std::memory_order_relaxed);
    }
    dropped(path + ": " + std::strerror(error));
    return false;
}

void SyslogSink::dropped(const std::string& why) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    const std::lock_guard lock(errorMutex_);
    lastError_ = why;
}

std::uint64_t SyslogSink::takeDropped() {
    return dropped_.exchange(0, std::memory_order_relaxed);
}

std::string SyslogSink::lastError() const {
    const std::lock_guard lock(errorMutex_);
    return lastError_;
}

}  // namespace portcullis::db
