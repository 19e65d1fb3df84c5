#pragma once
// The file operations of a session's sftp channels, decoded from the sftp.*
// audit events portcullisd wrote while the SFTP stream passed (open, close
// with bytes read and written, remove, rename, mkdir, ...): what `session
// show` lists per sftp channel, and what `play` and `export --format text`
// show for one instead of its binary SFTP stream.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/audit.hpp"
#include "db/recordings.hpp"

namespace portcullis::review {

struct SftpOperationView {
    std::int64_t eventId = 0;
    std::int64_t tsMicros = 0;
    std::string op;    // open, close, remove, rename, ...
    std::string path;  // as the client named it
    std::string newPath;
    std::string flags;  // open: read,write,create,...
    std::optional<std::uint64_t> bytesRead;
    std::optional<std::uint64_t> bytesWritten;
    bool ok = false;
    std::string status;  // "ok", or the server's failure
};

// The operations of sftp channel `row` of a session whose recordings are
// `rows`, in order. Events name their channel; older ones without it go to the
// session's only sftp channel, or by time to the channel open then.
std::vector<SftpOperationView> sftpOperations(db::AuditLog& audit,
                                              const std::vector<db::RecordingRow>& rows,
                                              const db::RecordingRow& row);
bool isSftpChannel(const db::RecordingRow& row);

// "2026-11-25T18:20:06Z  close   /srv/x.tar  written 1048576 bytes  ok", every
// name escaped for the terminal.
std::string sftpOperationLine(const SftpOperationView& op);
nlohmann::json sftpOperationJson(const SftpOperationView& op);

}  // namespace portcullis::review
