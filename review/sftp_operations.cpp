#include "review/sftp_operations.hpp"

#include <chrono>
#include <limits>

#include "common/time_format.hpp"
#include "recording/display_text.hpp"

namespace portcullis::review {
namespace {

using nlohmann::json;

std::string text(const json& d, const char* key) {
    return d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : std::string();
}

std::optional<std::uint64_t> count(const json& d, const char* key) {
    if (!d.contains(key) || !d[key].is_number_unsigned()) return std::nullopt;
    return d[key].get<std::uint64_t>();
}

std::int64_t micros(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// Does an event without a channel belong to `row`? The session's only sftp
// channel takes them all; with several, the one open at the event's time.
bool owns(const std::vector<db::RecordingRow>& rows, const db::RecordingRow& row,
          std::int64_t tsMicros) {
    int sftpChannels = 0;
    for (const auto& r : rows) sftpChannels += isSftpChannel(r) ? 1 : 0;
    if (sftpChannels <= 1) return true;
    // Rows carry seconds: an event of the second the channel ended is still its.
    const std::int64_t end =
        row.endedAt ? micros(*row.endedAt) + 1000000 : std::numeric_limits<std::int64_t>::max();
    return tsMicros >= micros(row.startedAt) && tsMicros < end;
}

}  // namespace

bool isSftpChannel(const db::RecordingRow& row) {
    return row.kind == "sftp";
}

std::vector<SftpOperationView> sftpOperations(db::AuditLog& audit,
                                              const std::vector<db::RecordingRow>& rows,
                                              const db::RecordingRow& row) {
    db::AuditFilter filter;
    filter.type = "sftp.";
    filter.limit = std::numeric_limits<int>::max();
    std::vector<SftpOperationView> out;
    for (const auto& r : audit.list(filter)) {
        const auto& d = r.event.details;
        if (!d.is_object() || text(d, "session_id") != row.sessionId) continue;
        if (d.contains("channel")) {
            if (!d["channel"].is_number_integer() || d["channel"].get<int>() != row.channel) {
                continue;
            }
        } else if (!owns(rows, row, r.tsMicros)) {
            continue;
        }
        SftpOperationView op;
        op.eventId = r.id;
        op.tsMicros = r.tsMicros;
        op.op = r.event.type.substr(5);  // after "sftp."
        op.path = text(d, "path");
        op.newPath = text(d, "new_path");
        op.flags = text(d, "flags");
        op.bytesRead = count(d, "bytes_read");
        op.bytesWritten = count(d, "bytes_written");
        op.ok = text(d, "result") == "ok";
        op.status = text(d, "status");
        out.push_back(std::move(op));
    }
    return out;
}

std::string sftpOperationLine(const SftpOperationView& op) {
    const TimePoint at{std::chrono::duration_cast<Seconds>(std::chrono::microseconds(op.tsMicros))};
    std::string line = formatIso8601(at) + "  " + recording::displayLine(op.op);
    if (line.size() < 32) line += std::string(32 - line.size(), ' ');
    line += "  " + recording::displayLine(op.path);
    if (!op.newPath.empty()) line += " -> " + recording::displayLine(op.newPath);
    if (!op.flags.empty()) line += "  (" + recording::displayLine(op.flags) + ")";
    if (op.bytesWritten && *op.bytesWritten > 0) {
        line += "  written " + std::to_string(*op.bytesWritten) + " bytes";
    }
    if (op.bytesRead && *op.bytesRead > 0)
        line += "  read " + std::to_string(*op.bytesRead) + " bytes";
    line += op.ok ? "  ok" : "  FAILED: " + recording::displayLine(op.status);
    return line;
}

json sftpOperationJson(const SftpOperationView& op) {
    const TimePoint at{std::chrono::duration_cast<Seconds>(std::chrono::microseconds(op.tsMicros))};
    return {{"event_id", op.eventId},
            {"time", formatIso8601(at)},
            {"op", op.op},
            {"path", op.path},
            {"new_path", op.newPath.empty() ? json() : json(op.newPath)},
            {"flags", op.flags.empty() ? json() : json(op.flags)},
            {"bytes_read", op.bytesRead ? json(*op.bytesRead) : json()},
            {"bytes_written", op.bytesWritten ? json(*op.bytesWritten) : json()},
            {"result", op.ok ? "ok" : "failed"},
            {"status", op.status}};
}

}  // namespace portcullis::review
