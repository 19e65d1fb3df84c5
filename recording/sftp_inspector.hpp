#pragma once
// Watches the SFTP protocol (draft-ietf-secsh-filexfer-02, version 3, what
// OpenSSH speaks) passing through an sftp subsystem channel and reports the
// file operations for the audit: open (with flags), close (with the bytes read
// and written through that handle), remove, rename, mkdir, rmdir, setstat,
// fsetstat. It never changes the bytes; it only reads them.
//
// Bounded: a packet longer than kMaxPacket, more than kMaxOpenHandles open
// handles or kMaxPending unanswered requests make the stream malformed; bulk
// payloads (WRITE data, DATA replies) are counted and skipped, never copied.
// A malformed stream is reported once (ok() turns false); the caller ends the
// channel. Feed it with any split of the bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::recording {

struct SftpOperation {
    std::string op;     // open, close, remove, rename, mkdir, rmdir, setstat, fsetstat
    std::string path;   // the file (for close/fsetstat: the path it was opened with)
    std::string path2;  // rename: the new name
    std::string flags;  // open: "read,write,append,create,truncate,excl" (those set)
    std::uint64_t bytesRead = 0;     // close: DATA bytes the server sent for this handle
    std::uint64_t bytesWritten = 0;  // close: WRITE bytes the client sent for this handle
    bool ok = false;                 // the server's answer
    std::string status;              // "ok", or the status name/message of a failure
};

class SftpInspector {
  public:
    static constexpr std::size_t kMaxPacket = 256 * 1024 + 1024;
    static constexpr std::size_t kMaxOpenHandles = 1024;
    static constexpr std::size_t kMaxPending = 4096;

    // Bytes the client sent (requests) and the server sent (replies), each in
    // stream order. Returns ok().
    bool fromClient(std::string_view bytes);
    bool fromServer(std::string_view bytes);
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }  // "" while ok

    // Operations answered since the last call, in the order answered.
    std::vector<SftpOperation> takeOperations();

    // ... implementation state (per-direction packet parser, pending requests
    // by id, open handles -> path and byte counts) is the implementer's.
  private:
    std::string error_;
    std::vector<SftpOperation> done_;
};

}  // namespace portcullis::recording
