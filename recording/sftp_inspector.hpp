#pragma once
// Watches the SFTP protocol (draft-ietf-secsh-filexfer-02, version 3, what
// OpenSSH speaks) passing through an sftp subsystem channel and reports the
// file operations for the audit: open (with flags), close (with the bytes read
// and written through that handle), remove, rename, link, symlink, mkdir,
// rmdir, setstat, fsetstat (OpenSSH's posix-rename, hardlink and lsetstat
// extensions included). It never changes the bytes; it only reads them.
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
#include <unordered_map>
#include <vector>

namespace portcullis::recording {

struct SftpOperation {
    std::string op;  // open, close, remove, rename, link, symlink, mkdir, rmdir, setstat, fsetstat
    std::string path;                // the file (for close/fsetstat: the path it was opened with)
    std::string path2;               // rename, link, symlink: the new name
    std::string flags;               // open: "read,write,append,create,truncate,excl" (those set)
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

  private:
    enum class Kind : std::uint8_t {
        Other,  // answered but not audited (stat, readdir, realpath...)
        Open,
        OpenDir,
        Close,
        Read,
        Write,
        Remove,
        Rename,
        Link,
        Symlink,
        Mkdir,
        Rmdir,
        Setstat,
        Fsetstat,
    };
    struct Pending {
        Kind kind = Kind::Other;
        std::uint8_t type = 0;    // the request's packet type, for messages
        std::string path;         // or the handle for Close/Read/Write/Fsetstat
        std::string path2;        // rename/link/symlink: the second name
        std::string flags;        // open
        std::uint64_t bytes = 0;  // write: data length, counted once the server agrees
    };
    struct Handle {
        std::string path;
        bool directory = false;
        std::uint64_t bytesRead = 0;
        std::uint64_t bytesWritten = 0;
    };
    // One direction's packet framing. Only a prefix of each packet is kept
    // (the whole packet for small requests, up to the bulk length field for
    // WRITE and DATA); the rest is skipped by counting.
    struct Framer {
        explicit Framer(bool fromClient) : client(fromClient) {}
        bool client;
        bool started = false;         // INIT / VERSION seen
        std::size_t headerBytes = 0;  // of the 4-byte length
        std::uint32_t length = 0;     // of the current packet, after the length field
        std::uint32_t consumed = 0;   // bytes of it seen
        std::size_t keep = 0;         // bytes of it to keep
        std::string kept;
    };

    bool feed(Framer& framer, std::string_view bytes);
    static std::size_t wanted(const Framer& framer);
    // A whole packet: its kept prefix (type first) and how many bytes after
    // that prefix were skipped.
    void clientPacket(std::string_view kept, std::uint32_t skipped);
    void serverPacket(std::string_view kept, std::uint32_t skipped);
    struct Reply;
    void answer(Pending& request, const Reply& reply);
    void addPending(std::uint32_t id, Pending pending);
    void fail(std::string message);

    std::string error_;
    std::vector<SftpOperation> done_;
    Framer client_{true};
    Framer server_{false};
    std::unordered_map<std::uint32_t, Pending> pending_;  // by request id
    std::unordered_map<std::string, Handle> handles_;     // by the server's handle string
};

}  // namespace portcullis::recording
