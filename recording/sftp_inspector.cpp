#include "recording/sftp_inspector.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace portcullis::recording {

namespace {

// Packet types of draft-ietf-secsh-filexfer-02 (version 3).
enum : std::uint8_t {
    kInit = 1,
    kVersion = 2,
    kOpen = 3,
    kClose = 4,
    kRead = 5,
    kWrite = 6,
    kLstat = 7,
    kFstat = 8,
    kSetstat = 9,
    kFsetstat = 10,
    kOpendir = 11,
    kReaddir = 12,
    kRemove = 13,
    kMkdir = 14,
    kRmdir = 15,
    kRealpath = 16,
    kStat = 17,
    kRename = 18,
    kReadlink = 19,
    kSymlink = 20,
    kStatus = 101,
    kHandle = 102,
    kData = 103,
    kName = 104,
    kAttrs = 105,
    kExtended = 200,
    kExtendedReply = 201,
};

constexpr std::uint32_t kAttrSize = 0x1;
constexpr std::uint32_t kAttrUidGid = 0x2;
constexpr std::uint32_t kAttrPermissions = 0x4;
constexpr std::uint32_t kAttrAcModTime = 0x8;
constexpr std::uint32_t kAttrExtended = 0x80000000;

constexpr std::uint32_t kStatusOk = 0;

// The draft caps handles at 256 bytes; anything longer is not SFTP, and the
// cap bounds what a pending READ/WRITE/CLOSE holds.
constexpr std::size_t kMaxHandle = 256;
// Longer paths cannot name a file on Linux (PATH_MAX); keeping at most this
// much bounds the state held per pending request and open handle.
constexpr std::size_t kMaxPathKept = 4096;
constexpr std::size_t kMaxMessageKept = 1024;
// A large packet's buffer is released afterwards rather than held all session.
constexpr std::size_t kKeptCapacityRetained = 64 * 1024;

constexpr std::string_view kPosixRename = "posix-rename@openssh.com";
constexpr std::string_view kHardlink = "hardlink@openssh.com";
constexpr std::string_view kLsetstat = "lsetstat@openssh.com";

// Reads big-endian fields from a packet; every read is bounds-checked and a
// failed read leaves the reader failed.
class Reader {
  public:
    explicit Reader(std::string_view data) : rest_(data) {}

    bool u8(std::uint8_t& value) {
        if (rest_.empty()) return false;
        value = static_cast<std::uint8_t>(rest_.front());
        rest_.remove_prefix(1);
        return true;
    }
    bool u32(std::uint32_t& value) {
        if (rest_.size() < 4) return false;
        value = 0;
        for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<std::uint8_t>(rest_[i]);
        rest_.remove_prefix(4);
        return true;
    }
    bool skip(std::size_t n) {
        if (rest_.size() < n) return false;
        rest_.remove_prefix(n);
        return true;
    }
    bool string(std::string_view& value) {
        std::uint32_t n = 0;
        if (!u32(n) || rest_.size() < n) return false;
        value = rest_.substr(0, n);
        rest_.remove_prefix(n);
        return true;
    }
    bool handle(std::string_view& value) { return string(value) && value.size() <= kMaxHandle; }
    // The length of a bulk string whose bytes were skipped rather than kept.
    bool bulk(std::uint32_t& n, std::uint32_t skipped) {
        return u32(n) && n <= rest_.size() + std::size_t{skipped};
    }
    // ATTRS: which fields follow depends on the flags; extended pairs are
    // counted. Parsed only to find (and check) where the packet goes on.
    bool attrs() {
        std::uint32_t flags = 0;
        if (!u32(flags)) return false;
        if ((flags & kAttrSize) && !skip(8)) return false;
        if ((flags & kAttrUidGid) && !skip(8)) return false;
        if ((flags & kAttrPermissions) && !skip(4)) return false;
        if ((flags & kAttrAcModTime) && !skip(8)) return false;
        if (flags & kAttrExtended) {
            std::uint32_t count = 0;
            if (!u32(count)) return false;
            std::string_view type, data;
            for (std::uint32_t i = 0; i < count; ++i) {
                if (!string(type) || !string(data)) return false;
            }
        }
        return true;
    }
    std::string_view rest() const { return rest_; }

  private:
    std::string_view rest_;
};

std::uint32_t be32(std::string_view bytes, std::size_t at) {
    std::uint32_t value = 0;
    for (std::size_t i = at; i < at + 4; ++i)
        value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
    return value;
}

std::string capped(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::string out(text.substr(0, max));
    out += "[...]";
    return out;
}

std::string openFlags(std::uint32_t pflags) {
    static constexpr std::array<std::pair<std::uint32_t, std::string_view>, 6> kNames{{
        {0x01, "read"},
        {0x02, "write"},
        {0x04, "append"},
        {0x08, "create"},
        {0x10, "truncate"},
        {0x20, "excl"},
    }};
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if (!(pflags & bit)) continue;
        if (!out.empty()) out += ',';
        out += name;
    }
    return out;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// "permission denied", plus the server's message when it says more than the
// code's name (OpenSSH's messages are just the names, capitalized).
std::string statusText(std::uint32_t code, std::string_view message) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kNames{{
        {"ok", "Success"},
        {"eof", "End of file"},
        {"no such file", "No such file"},
        {"permission denied", "Permission denied"},
        {"failure", "Failure"},
        {"bad message", "Bad message"},
        {"no connection", "No connection"},
        {"connection lost", "Connection lost"},
        {"operation unsupported", "Operation unsupported"},
    }};
    std::string out;
    std::string_view usual;
    if (code < kNames.size()) {
        out = kNames[code].first;
        usual = kNames[code].second;
    } else {
        out = "status " + std::to_string(code);
    }
    if (!message.empty() && !equalsIgnoringCase(message, out) &&
        !equalsIgnoringCase(message, usual)) {
        out += ": " + capped(message, kMaxMessageKept);
    }
    return out;
}

std::string_view typeName(std::uint8_t type) {
    switch (type) {
        case kInit:
            return "INIT";
        case kVersion:
            return "VERSION";
        case kOpen:
            return "OPEN";
        case kClose:
            return "CLOSE";
        case kRead:
            return "READ";
        case kWrite:
            return "WRITE";
        case kLstat:
            return "LSTAT";
        case kFstat:
            return "FSTAT";
        case kSetstat:
            return "SETSTAT";
        case kFsetstat:
            return "FSETSTAT";
        case kOpendir:
            return "OPENDIR";
        case kReaddir:
            return "READDIR";
        case kRemove:
            return "REMOVE";
        case kMkdir:
            return "MKDIR";
        case kRmdir:
            return "RMDIR";
        case kRealpath:
            return "REALPATH";
        case kStat:
            return "STAT";
        case kRename:
            return "RENAME";
        case kReadlink:
            return "READLINK";
        case kSymlink:
            return "SYMLINK";
        case kStatus:
            return "STATUS";
        case kHandle:
            return "HANDLE";
        case kData:
            return "DATA";
        case kName:
            return "NAME";
        case kAttrs:
            return "ATTRS";
        case kExtended:
            return "EXTENDED";
        case kExtendedReply:
            return "EXTENDED_REPLY";
        default:
            return "unknown";
    }
}

std::string describeType(std::uint8_t type) {
    std::string out(typeName(type));
    if (out == "unknown") out = "type " + std::to_string(type);
    return out;
}

}  // namespace

// A server packet after VERSION, checked and decoded.
struct SftpInspector::Reply {
    std::uint8_t type = 0;
    std::uint32_t status = 0;      // STATUS
    std::string_view message;      // STATUS
    std::string_view handle;       // HANDLE
    std::uint32_t dataLength = 0;  // DATA
};

bool SftpInspector::fromClient(std::string_view bytes) {
    return feed(client_, bytes);
}

bool SftpInspector::fromServer(std::string_view bytes) {
    return feed(server_, bytes);
}

std::vector<SftpOperation> SftpInspector::takeOperations() {
    return std::exchange(done_, {});
}

void SftpInspector::fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
}

bool SftpInspector::feed(Framer& f, std::string_view bytes) {
    while (ok() && !bytes.empty()) {
        if (f.headerBytes < 4) {
            f.length = (f.length << 8) | static_cast<std::uint8_t>(bytes.front());
            bytes.remove_prefix(1);
            if (++f.headerBytes < 4) continue;
            if (f.length == 0) {
                fail("sftp: empty packet");
            } else if (f.length > kMaxPacket) {
                fail("sftp: packet of " + std::to_string(f.length) +
                     " bytes exceeds the limit of " + std::to_string(kMaxPacket));
            }
            f.consumed = 0;
            f.kept.clear();
            f.keep = 1;  // the type decides how much more to keep
            continue;
        }
        std::size_t n = 0;
        if (f.kept.size() < f.keep) {
            n = std::min(f.keep - f.kept.size(), bytes.size());
            f.kept.append(bytes.substr(0, n));
            if (f.kept.size() == f.keep) {
                f.keep = std::max(f.kept.size(), std::min<std::size_t>(wanted(f), f.length));
            }
        } else {
            // Bulk bytes (WRITE data, DATA payload, listings): counted, never copied.
            n = std::min<std::size_t>(f.length - f.consumed, bytes.size());
        }
        f.consumed += static_cast<std::uint32_t>(n);
        bytes.remove_prefix(n);
        if (f.consumed < f.length) continue;

        const auto skipped = static_cast<std::uint32_t>(f.length - f.kept.size());
        if (f.client) {
            clientPacket(f.kept, skipped);
        } else {
            serverPacket(f.kept, skipped);
        }
        f.headerBytes = 0;
        f.length = 0;
        if (f.kept.capacity() > kKeptCapacityRetained) {
            std::string().swap(f.kept);
        } else {
            f.kept.clear();
        }
    }
    return ok();
}

// How many bytes of the current packet to keep, given what is kept so far
// (at least the type byte). Returning no more than kept.size() means "skip
// the rest".
std::size_t SftpInspector::wanted(const Framer& f) {
    constexpr std::size_t kAll = kMaxPacket;
    constexpr std::size_t kTypeAndId = 5;
    constexpr std::size_t kTypeIdLength = 9;
    const std::string_view kept = f.kept;
    const auto type = static_cast<std::uint8_t>(kept[0]);
    if (!f.client) {
        switch (type) {
            case kStatus:
            case kHandle:
                return kAll;
            case kData:
                return kTypeIdLength;  // type, id, data length
            default:
                return kTypeAndId;  // VERSION's version, or a reply's id
        }
    }
    switch (type) {
        case kWrite: {
            // type, id, handle, offset, data length; then the data is skipped.
            if (kept.size() < kTypeIdLength) return kTypeIdLength;
            const std::uint32_t handleLength = be32(kept, kTypeAndId);
            if (handleLength > kMaxHandle) return kept.size();  // refused when parsed
            return kTypeIdLength + handleLength + 8 + 4;
        }
        case kExtended: {
            // type, id, name; the rest only for the extensions that are audited.
            if (kept.size() < kTypeIdLength) return kTypeIdLength;
            const std::size_t nameEnd = kTypeIdLength + std::size_t{be32(kept, kTypeAndId)};
            if (kept.size() < nameEnd) return nameEnd;
            const std::string_view name = kept.substr(kTypeIdLength, nameEnd - kTypeIdLength);
            if (name == kPosixRename || name == kHardlink || name == kLsetstat) return kAll;
            return kept.size();
        }
        case kOpen:
        case kClose:
        case kRead:
        case kSetstat:
        case kFsetstat:
        case kOpendir:
        case kRemove:
        case kMkdir:
        case kRmdir:
        case kRename:
        case kSymlink:
            return kAll;
        case kInit:
        case kLstat:
        case kFstat:
        case kReaddir:
        case kRealpath:
        case kStat:
        case kReadlink:
            return kTypeAndId;
        default:
            return kept.size();  // not a request: OpenSSH's server ignores it too
    }
}

void SftpInspector::addPending(std::uint32_t id, Pending pending) {
    if (pending_.contains(id)) {
        // Two answers could not be told apart: the audit would be guesswork.
        fail("sftp: request id " + std::to_string(id) + " reused before its reply");
    } else if (pending_.size() >= kMaxPending) {
        fail("sftp: more than " + std::to_string(kMaxPending) + " requests awaiting a reply");
    } else {
        pending_.emplace(id, std::move(pending));
    }
}

void SftpInspector::clientPacket(std::string_view kept, std::uint32_t skipped) {
    Reader in(kept);
    std::uint8_t type = 0;
    in.u8(type);
    if (!client_.started) {
        std::uint32_t version = 0;
        if (type != kInit) return fail("sftp: the client did not start with INIT");
        if (!in.u32(version)) return fail("sftp: malformed INIT");
        client_.started = true;
        return;
    }
    if (type == kInit) return fail("sftp: a second INIT from the client");

    std::uint32_t id = 0;
    std::uint32_t u32 = 0;
    std::string_view a, b;  // path (or handle), second path
    Pending p;
    bool good = in.u32(id);
    switch (type) {
        case kOpen:
            good = good && in.string(a) && in.u32(u32) && in.attrs();
            p.kind = Kind::Open;
            p.flags = openFlags(u32);
            break;
        case kOpendir:
            good = good && in.string(a);
            p.kind = Kind::OpenDir;
            break;
        case kClose:
            good = good && in.handle(a);
            p.kind = Kind::Close;
            break;
        case kRead:
            good = good && in.handle(a) && in.skip(8) && in.u32(u32);
            p.kind = Kind::Read;
            break;
        case kWrite:
            good = good && in.handle(a) && in.skip(8) && in.bulk(u32, skipped);
            p.kind = Kind::Write;
            p.bytes = u32;
            break;
        case kFsetstat:
            good = good && in.handle(a) && in.attrs();
            p.kind = Kind::Fsetstat;
            break;
        case kSetstat:
        case kMkdir:
            good = good && in.string(a) && in.attrs();
            p.kind = type == kSetstat ? Kind::Setstat : Kind::Mkdir;
            break;
        case kRemove:
        case kRmdir:
            good = good && in.string(a);
            p.kind = type == kRemove ? Kind::Remove : Kind::Rmdir;
            break;
        case kRename:
        case kSymlink:
            // OpenSSH sends SYMLINK as (target, link name), the reverse of the
            // draft; reported as sent, like rename and link: path, then path2.
            good = good && in.string(a) && in.string(b);
            p.kind = type == kRename ? Kind::Rename : Kind::Symlink;
            break;
        case kExtended: {
            std::string_view name;
            good = good && in.string(name);
            if (!good) break;
            if (name == kPosixRename || name == kHardlink) {
                good = in.string(a) && in.string(b);
                p.kind = name == kHardlink ? Kind::Link : Kind::Rename;
            } else if (name == kLsetstat) {
                good = in.string(a) && in.attrs();
                p.kind = Kind::Setstat;
            }
            // Others (fsync, statvfs, limits...) change no names: answered only.
            break;
        }
        case kLstat:
        case kFstat:
        case kReaddir:
        case kRealpath:
        case kStat:
        case kReadlink:
            break;
        default:
            return;  // unknown types get no reply from OpenSSH's server either
    }
    if (!good) return fail("sftp: malformed " + describeType(type) + " request");
    p.type = type;
    p.path = capped(a, kMaxPathKept);  // handles are at most kMaxHandle
    p.path2 = capped(b, kMaxPathKept);
    addPending(id, std::move(p));
}

void SftpInspector::serverPacket(std::string_view kept, std::uint32_t skipped) {
    Reader in(kept);
    Reply reply;
    in.u8(reply.type);
    if (!server_.started) {
        std::uint32_t version = 0;
        if (reply.type != kVersion) return fail("sftp: the server did not start with VERSION");
        if (!in.u32(version)) return fail("sftp: malformed VERSION");
        // Other versions lay out OPEN, ATTRS and STATUS differently.
        if (version != 3) {
            return fail("sftp: protocol version " + std::to_string(version) +
                        " is not supported (only 3)");
        }
        server_.started = true;
        return;
    }
    if (reply.type == kVersion) return fail("sftp: a second VERSION from the server");

    std::uint32_t id = 0;
    bool good = in.u32(id);
    switch (reply.type) {
        case kStatus:
            good = good && in.u32(reply.status);
            // The message and language tag are v3 but some servers omit them.
            if (good && !in.rest().empty()) good = in.string(reply.message);
            break;
        case kHandle:
            good = good && in.handle(reply.handle);
            break;
        case kData:
            good = good && in.bulk(reply.dataLength, skipped);
            break;
        default:
            break;
    }
    if (!good) return fail("sftp: malformed " + describeType(reply.type) + " reply");

    const auto found = pending_.find(id);
    if (found == pending_.end()) return;  // answers nothing audited (or an unknown type)
    Pending request = std::move(found->second);
    pending_.erase(found);
    answer(request, reply);
}

void SftpInspector::answer(Pending& request, const Reply& reply) {
    if (request.kind == Kind::Other) return;
    const bool status = reply.type == kStatus;
    const bool statusOk = status && reply.status == kStatusOk;
    // What each request may be answered with: anything else is not SFTP.
    const bool handleAnswer = request.kind == Kind::Open || request.kind == Kind::OpenDir;
    const bool expected = handleAnswer ? reply.type == kHandle || (status && !statusOk)
                          : request.kind == Kind::Read ? reply.type == kData || status
                                                       : status;
    if (!expected) {
        return fail("sftp: " + describeType(reply.type) +
                    (status ? " " + statusText(reply.status, {}) : std::string()) +
                    " does not answer " + describeType(request.type));
    }
    SftpOperation op;
    op.path = std::move(request.path);
    op.path2 = std::move(request.path2);
    op.ok = statusOk;
    op.status = status ? statusText(reply.status, reply.message) : "ok";

    switch (request.kind) {
        case Kind::Other:
            return;
        case Kind::Open:
        case Kind::OpenDir: {
            if (reply.type == kHandle) {
                std::string handle(reply.handle);
                if (handles_.contains(handle)) {
                    return fail("sftp: the server returned a handle that is already open");
                }
                if (handles_.size() >= kMaxOpenHandles) {
                    return fail("sftp: more than " + std::to_string(kMaxOpenHandles) +
                                " open handles");
                }
                Handle& opened = handles_[std::move(handle)];
                opened.path = op.path;
                opened.directory = request.kind == Kind::OpenDir;
                op.ok = true;
            }
            if (request.kind == Kind::OpenDir) return;  // the audit is about files
            op.op = "open";
            op.flags = std::move(request.flags);
            break;
        }
        case Kind::Close: {
            // OpenSSH's server forgets the handle even when close(2) fails.
            const auto handle = handles_.find(op.path);
            if (handle == handles_.end()) return;
            const Handle closed = std::move(handle->second);
            handles_.erase(handle);
            if (closed.directory) return;
            op.op = "close";
            op.path = closed.path;
            op.bytesRead = closed.bytesRead;
            op.bytesWritten = closed.bytesWritten;
            break;
        }
        case Kind::Read:
        case Kind::Write: {
            // Looked up on the answer: OpenSSH reuses handle values, and in
            // reply order the value still names the file the server used.
            const auto handle = handles_.find(op.path);
            if (handle == handles_.end()) return;
            if (reply.type == kData) handle->second.bytesRead += reply.dataLength;
            if (request.kind == Kind::Write && statusOk) {
                handle->second.bytesWritten += request.bytes;
            }
            return;
        }
        case Kind::Fsetstat: {
            const auto handle = handles_.find(op.path);
            op.path = handle == handles_.end() ? std::string() : handle->second.path;
            op.op = "fsetstat";
            break;
        }
        case Kind::Remove:
            op.op = "remove";
            break;
        case Kind::Rename:
            op.op = "rename";
            break;
        case Kind::Link:
            op.op = "link";
            break;
        case Kind::Symlink:
            op.op = "symlink";
            break;
        case Kind::Mkdir:
            op.op = "mkdir";
            break;
        case Kind::Rmdir:
            op.op = "rmdir";
            break;
        case Kind::Setstat:
            op.op = "setstat";
            break;
    }
    done_.push_back(std::move(op));
}

}  // namespace portcullis::recording
