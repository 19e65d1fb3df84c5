#include "recording/sftp_inspector.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::recording {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// --- SFTP v3 packet builders --------------------------------------------

std::string u32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}
std::string u64(std::uint64_t v) {
    return u32(static_cast<std::uint32_t>(v >> 32)) + u32(static_cast<std::uint32_t>(v));
}
std::string str(std::string_view s) {
    return u32(static_cast<std::uint32_t>(s.size())) + std::string(s);
}
std::string packet(std::uint8_t type, const std::string& body) {
    return u32(static_cast<std::uint32_t>(body.size() + 1)) + static_cast<char>(type) + body;
}

const std::string kNoAttrs = u32(0);
std::string permsAttrs(std::uint32_t mode) {
    return u32(0x4) + u32(mode);
}
// Every v3 field: size, uid/gid, permissions, times, two extended pairs.
std::string fullAttrs() {
    return u32(0x1 | 0x2 | 0x4 | 0x8 | 0x80000000) + u64(1234) + u32(1000) + u32(1000) + u32(0644) +
           u32(1700000000) + u32(1700000001) + u32(2) + str("a@x") + str("1") + str("b@x") +
           str("");
}

enum Flag : std::uint32_t {
    kRead = 0x1,
    kWrite = 0x2,
    kAppend = 0x4,
    kCreate = 0x8,
    kTruncate = 0x10,
    kExcl = 0x20
};

std::string init() {
    return packet(1, u32(3));
}
std::string version(std::uint32_t v = 3) {
    // OpenSSH lists its extensions after the version.
    return packet(2, u32(v) + str("posix-rename@openssh.com") + str("1"));
}
std::string open(std::uint32_t id, std::string_view path, std::uint32_t pflags,
                 const std::string& attrs = kNoAttrs) {
    return packet(3, u32(id) + str(path) + u32(pflags) + attrs);
}
std::string close(std::uint32_t id, std::string_view handle) {
    return packet(4, u32(id) + str(handle));
}
std::string read(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                 std::uint32_t len) {
    return packet(5, u32(id) + str(handle) + u64(offset) + u32(len));
}
std::string write(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                  std::string_view data) {
    return packet(6, u32(id) + str(handle) + u64(offset) + str(data));
}
std::string lstat(std::uint32_t id, std::string_view path) {
    return packet(7, u32(id) + str(path));
}
std::string setstat(std::uint32_t id, std::string_view path, const std::string& attrs) {
    return packet(9, u32(id) + str(path) + attrs);
}
std::string fsetstat(std::uint32_t id, std::string_view handle, const std::string& attrs) {
    return packet(10, u32(id) + str(handle) + attrs);
}
std::string opendir(std::uint32_t id, std::string_view path) {
    return packet(11, u32(id) + str(path));
}
std::string readdir(std::uint32_t id, std::string_view handle) {
    return packet(12, u32(id) + str(handle));
}
std::string remove(std::uint32_t id, std::string_view path) {
    return packet(13, u32(id) + str(path));
}
std::string mkdir(std::uint32_t id, std::string_view path, const std::string& attrs) {
    return packet(14, u32(id) + str(path) + attrs);
}
std::string rmdir(std::uint32_t id, std::string_view path) {
    return packet(15, u32(id) + str(path));
}
std::string rename(std::uint32_t id, std::string_view from, std::string_view to) {
    return packet(18, u32(id) + str(from) + str(to));
}
std::string symlink(std::uint32_t id, std::string_view target, std::string_view link) {
    return packet(20, u32(id) + str(target) + str(link));
}
std::string extended(std::uint32_t id, std::string_view name, const std::string& rest) {
    return packet(200, u32(id) + str(name) + rest);
}

std::string status(std::uint32_t id, std::uint32_t code, std::string_view message = "") {
    return packet(101, u32(id) + u32(code) + str(message) + str(""));
}
std::string statusOk(std::uint32_t id) {
    return status(id, 0, "Success");
}
std::string handle(std::uint32_t id, std::string_view h) {
    return packet(102, u32(id) + str(h));
}
std::string data(std::uint32_t id, std::string_view bytes) {
    return packet(103, u32(id) + str(bytes));
}
std::string name(std::uint32_t id, std::string_view file) {
    return packet(
        104, u32(id) + u32(1) + str(file) + str("-rw-r--r-- 1 " + std::string(file)) + kNoAttrs);
}
std::string attrsReply(std::uint32_t id) {
    return packet(105, u32(id) + fullAttrs());
}

// --- driving the inspector ----------------------------------------------

struct Chunk {
    bool fromClient;
    std::string bytes;
};
using Session = std::vector<Chunk>;

Chunk client(std::string bytes) {
    return {true, std::move(bytes)};
}
Chunk server(std::string bytes) {
    return {false, std::move(bytes)};
}

std::string describe(const SftpOperation& op) {
    std::string out = op.op + " " + op.path;
    if (!op.path2.empty()) out += " -> " + op.path2;
    if (!op.flags.empty()) out += " [" + op.flags + "]";
    if (op.op == "close") {
        out += " r=" + std::to_string(op.bytesRead) + " w=" + std::to_string(op.bytesWritten);
    }
    out += op.ok ? " ok" : " FAILED";
    if (op.status != "ok") out += " (" + op.status + ")";
    return out;
}

struct Outcome {
    std::vector<std::string> ops;
    std::string error;
};

// Feeds each chunk in pieces of at most `piece` bytes (0: whole chunks).
Outcome run(const Session& session, std::size_t piece = 0) {
    SftpInspector inspector;
    Outcome outcome;
    for (const Chunk& chunk : session) {
        std::string_view rest = chunk.bytes;
        do {
            const std::size_t n = piece == 0 ? rest.size() : std::min(piece, rest.size());
            if (chunk.fromClient) {
                inspector.fromClient(rest.substr(0, n));
            } else {
                inspector.fromServer(rest.substr(0, n));
            }
            rest.remove_prefix(n);
            for (const SftpOperation& op : inspector.takeOperations()) {
                outcome.ops.push_back(describe(op));
            }
        } while (!rest.empty());
    }
    outcome.error = inspector.error();
    return outcome;
}

Session started(Session rest) {
    Session session{client(init()), server(version())};
    session.insert(session.end(), rest.begin(), rest.end());
    return session;
}

// A realistic upload as OpenSSH's sftp does it: pipelined writes, then close.
Session uploadSession() {
    const std::string block(32768, 'x');
    return started({
        client(lstat(1, "/home/alice/report.pdf")),
        server(status(1, 2, "No such file")),
        client(open(2, "/home/alice/report.pdf", kWrite | kCreate | kTruncate, permsAttrs(0644))),
        server(handle(2, std::string("\0\0\0\0", 4))),
        client(write(3, std::string("\0\0\0\0", 4), 0, block) +
               write(4, std::string("\0\0\0\0", 4), 32768, block) +
               write(5, std::string("\0\0\0\0", 4), 65536, "tail")),
        server(statusOk(3) + statusOk(4)),
        server(statusOk(5)),
        client(close(6, std::string("\0\0\0\0", 4))),
        server(statusOk(6)),
    });
}

const std::vector<std::string> kUploadOps{
    "open /home/alice/report.pdf [write,create,truncate] ok",
    "close /home/alice/report.pdf r=0 w=65540 ok",
};

TEST(SftpInspector, UploadReportsOpenAndCloseWithBytesWritten) {
    const Outcome outcome = run(uploadSession());
    EXPECT_EQ(outcome.error, "");
    EXPECT_EQ(outcome.ops, kUploadOps);
}

TEST(SftpInspector, OpenIsReportedWhenAnsweredNotWhenAsked) {
    SftpInspector inspector;
    inspector.fromClient(init() + open(1, "/f", kRead));
    inspector.fromServer(version());
    EXPECT_THAT(inspector.takeOperations(), IsEmpty());
    inspector.fromServer(handle(1, "h1"));
    const auto ops = inspector.takeOperations();
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].op, "open");
    EXPECT_EQ(ops[0].path, "/f");
    EXPECT_EQ(ops[0].flags, "read");
    EXPECT_TRUE(ops[0].ok);
    EXPECT_EQ(ops[0].status, "ok");
    EXPECT_THAT(inspector.takeOperations(), IsEmpty());  // taken once
    EXPECT_TRUE(inspector.ok());
}

TEST(SftpInspector, DownloadCountsDataBytes) {
    const Outcome outcome = run(started({
        client(open(1, "/srv/data.csv", kRead)),
        server(handle(1, "H")),
        client(read(2, "H", 0, 32768) + read(3, "H", 32768, 32768) + read(4, "H", 65536, 32768)),
        server(data(2, std::string(32768, 'a')) + data(3, std::string(1000, 'b'))),
        server(status(4, 1, "End of file")),
        client(close(5, "H")),
        server(statusOk(5)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops,
                ElementsAre("open /srv/data.csv [read] ok", "close /srv/data.csv r=33768 w=0 ok"));
}

TEST(SftpInspector, AllOpenFlagsInOrder) {
    const Outcome outcome = run(started({
        client(open(1, "/a", kExcl | kTruncate | kCreate | kAppend | kWrite | kRead)),
        server(handle(1, "1")),
        client(open(2, "/b", kWrite | kAppend)),
        server(handle(2, "2")),
        client(open(3, "/c", 0)),
        server(handle(3, "3")),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("open /a [read,write,append,create,truncate,excl] ok",
                                         "open /b [write,append] ok", "open /c ok"));
}

TEST(SftpInspector, FailedOpenCarriesTheStatus) {
    const Outcome outcome = run(started({
        client(open(1, "/etc/shadow", kRead)),
        server(status(1, 3, "Permission denied")),
        client(open(2, "/nope/x", kWrite | kCreate)),
        server(status(2, 2, "No such file")),
        client(open(3, "/quota", kWrite)),
        server(status(3, 4, "Disk quota exceeded")),
        client(open(4, "/odd", kRead)),
        server(status(4, 42)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops,
                ElementsAre("open /etc/shadow [read] FAILED (permission denied)",
                            "open /nope/x [write,create] FAILED (no such file)",
                            "open /quota [write] FAILED (failure: Disk quota exceeded)",
                            "open /odd [read] FAILED (status 42)"));
}

TEST(SftpInspector, FailedWritesAreNotCounted) {
    const Outcome outcome = run(started({
        client(open(1, "/full", kWrite | kCreate)),
        server(handle(1, "h")),
        client(write(2, "h", 0, "12345") + write(3, "h", 5, "678") + write(4, "h", 8, "9")),
        server(statusOk(2) + status(3, 4, "No space left on device") + statusOk(4)),
        client(close(5, "h")),
        server(status(5, 4, "Failure")),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("open /full [write,create] ok",
                                         "close /full r=0 w=6 FAILED (failure)"));
}

TEST(SftpInspector, PathOperations) {
    const Outcome outcome = run(started({
        client(rename(1, "/a", "/b")),
        server(statusOk(1)),
        client(remove(2, "/b")),
        server(statusOk(2)),
        client(mkdir(3, "/d", permsAttrs(0755))),
        server(statusOk(3)),
        client(rmdir(4, "/d")),
        server(status(4, 2, "No such file")),
        client(setstat(5, "/f", fullAttrs())),
        server(status(5, 3, "Permission denied")),
        client(symlink(6, "/target", "/link")),
        server(statusOk(6)),
        client(remove(7, "/etc/passwd")),
        server(status(7, 3, "Operation not permitted by policy")),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops,
                ElementsAre("rename /a -> /b ok", "remove /b ok", "mkdir /d ok",
                            "rmdir /d FAILED (no such file)",
                            "setstat /f FAILED (permission denied)", "symlink /target -> /link ok",
                            "remove /etc/passwd FAILED (permission denied: Operation not "
                            "permitted by policy)"));
}

TEST(SftpInspector, FsetstatNamesTheOpenFile) {
    const Outcome outcome = run(started({
        client(open(1, "/x", kWrite)),
        server(handle(1, "hx")),
        client(fsetstat(2, "hx", permsAttrs(0600))),
        server(statusOk(2)),
        client(fsetstat(3, "unknown", kNoAttrs)),
        server(status(3, 4, "Failure")),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops,
                ElementsAre("open /x [write] ok", "fsetstat /x ok", "fsetstat  FAILED (failure)"));
}

TEST(SftpInspector, OpenSshExtensions) {
    const Outcome outcome = run(started({
        client(extended(1, "posix-rename@openssh.com", str("/old") + str("/new"))),
        server(statusOk(1)),
        client(extended(2, "hardlink@openssh.com", str("/new") + str("/also"))),
        server(statusOk(2)),
        client(extended(3, "lsetstat@openssh.com", str("/l") + fullAttrs())),
        server(statusOk(3)),
        client(open(4, "/s", kWrite)),
        server(handle(4, "hs")),
        client(extended(5, "fsync@openssh.com", str("hs"))),
        server(statusOk(5)),
        client(extended(6, "statvfs@openssh.com", str("/"))),
        server(packet(201, u32(6) + std::string(88, '\0'))),
        client(extended(7, "vendor-thing@example.com", std::string(5000, 'z'))),
        server(status(7, 8, "Operation unsupported")),
        client(extended(8, "", "")),
        server(status(8, 8)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("rename /old -> /new ok", "link /new -> /also ok",
                                         "setstat /l ok", "open /s [write] ok"));
}

TEST(SftpInspector, DirectoriesAreListedSilently) {
    const Outcome outcome = run(started({
        client(opendir(1, "/home")),
        server(handle(1, "d")),
        client(readdir(2, "d")),
        server(name(2, "alice")),
        client(readdir(3, "d")),
        server(status(3, 1, "End of file")),
        client(close(4, "d")),
        server(statusOk(4)),
        client(opendir(5, "/root")),
        server(status(5, 3, "Permission denied")),
        client(lstat(6, "/home/alice")),
        server(attrsReply(6)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, IsEmpty());
}

// OpenSSH's server hands out the lowest free handle again after a close.
TEST(SftpInspector, ReusedHandleValuesNameTheNewFile) {
    const Outcome outcome = run(started({
        client(open(1, "/one", kWrite | kCreate)),
        server(handle(1, "0")),
        client(write(2, "0", 0, "abc") + close(3, "0") + open(4, "/two", kRead) +
               read(5, "0", 0, 100) + read(6, "0", 100, 100) + close(7, "0")),
        server(statusOk(2) + statusOk(3) + handle(4, "0") + data(5, "0123456789") + status(6, 1) +
               statusOk(7)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("open /one [write,create] ok", "close /one r=0 w=3 ok",
                                         "open /two [read] ok", "close /two r=10 w=0 ok"));
}

// Replies may arrive in any order: each is matched by its request id.
TEST(SftpInspector, RepliesOutOfOrder) {
    const Outcome outcome = run(started({
        client(remove(1, "/r1") + remove(2, "/r2") + mkdir(3, "/m", kNoAttrs)),
        server(statusOk(3) + status(1, 2) + statusOk(2)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops,
                ElementsAre("mkdir /m ok", "remove /r1 FAILED (no such file)", "remove /r2 ok"));
}

Session everythingSession() {
    Session session = uploadSession();
    const Session more{
        client(open(10, "/srv/data.csv", kRead)),
        server(handle(10, "H")),
        client(read(11, "H", 0, 32768) + read(12, "H", 32768, 32768)),
        server(data(11, std::string(70000 - 100, 'a')) + status(12, 1, "End of file")),
        client(close(13, "H") + rename(14, "/a", "/b") + setstat(15, "/b", fullAttrs())),
        server(statusOk(13) + statusOk(14) + status(15, 3, "Permission denied")),
        client(extended(16, "posix-rename@openssh.com", str("/b") + str("/c"))),
        server(statusOk(16)),
    };
    session.insert(session.end(), more.begin(), more.end());
    return session;
}

TEST(SftpInspector, AnySplitGivesTheSameEvents) {
    const Session session = everythingSession();
    const Outcome whole = run(session);
    ASSERT_EQ(whole.error, "");
    ASSERT_EQ(whole.ops.size(), 7u);
    for (std::size_t piece : {1, 2, 3, 4, 5, 7, 9, 13, 64, 1000, 4096}) {
        const Outcome split = run(session, piece);
        EXPECT_EQ(split.error, "") << "pieces of " << piece;
        EXPECT_EQ(split.ops, whole.ops) << "pieces of " << piece;
    }

    // Random splits, the whole session as one stream per direction.
    std::mt19937 random(20240611);
    for (int round = 0; round < 50; ++round) {
        SftpInspector inspector;
        std::vector<std::string> ops;
        for (const Chunk& chunk : session) {
            std::string_view rest = chunk.bytes;
            while (!rest.empty()) {
                const std::size_t n = std::min<std::size_t>(
                    rest.size(), std::uniform_int_distribution<std::size_t>(1, 300)(random));
                (chunk.fromClient ? inspector.fromClient(rest.substr(0, n))
                                  : inspector.fromServer(rest.substr(0, n)));
                rest.remove_prefix(n);
            }
        }
        for (const SftpOperation& op : inspector.takeOperations()) ops.push_back(describe(op));
        EXPECT_TRUE(inspector.ok()) << inspector.error();
        EXPECT_EQ(ops, whole.ops) << "round " << round;
    }
}

TEST(SftpInspector, LargestPacketIsAcceptedAndOneMoreByteIsNot) {
    // A WRITE whose packet is exactly the limit: its data is counted.
    const std::size_t overhead = 1 + 4 + str("h").size() + 8 + 4;
    const std::string big(SftpInspector::kMaxPacket - overhead, 'q');
    const Outcome outcome = run(started({
        client(open(1, "/big", kWrite)),
        server(handle(1, "h")),
        client(write(2, "h", 0, big)),
        server(statusOk(2)),
        client(close(3, "h")),
        server(statusOk(3)),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("open /big [write] ok",
                                         "close /big r=0 w=" + std::to_string(big.size()) + " ok"));

    SftpInspector inspector;
    EXPECT_TRUE(inspector.fromClient(init()));
    EXPECT_FALSE(inspector.fromClient(u32(SftpInspector::kMaxPacket + 1)));
    EXPECT_FALSE(inspector.ok());
    EXPECT_EQ(inspector.error(), "sftp: packet of 263169 bytes exceeds the limit of 263168");
}

TEST(SftpInspector, OversizedServerPacket) {
    SftpInspector inspector;
    inspector.fromClient(init());
    inspector.fromServer(version());
    EXPECT_FALSE(inspector.fromServer(u32(0xffffffff) + std::string(100, 'd')));
    EXPECT_THAT(inspector.error(), HasSubstr("packet of 4294967295 bytes exceeds the limit"));
}

TEST(SftpInspector, AfterAnErrorEverythingIsIgnored) {
    SftpInspector inspector;
    inspector.fromClient(init() + open(1, "/before", kRead));
    inspector.fromServer(version());
    EXPECT_FALSE(inspector.fromClient(u32(SftpInspector::kMaxPacket + 1)));
    const std::string error = inspector.error();
    // Neither direction is looked at any more: the answer to the open, a new
    // request and its answer produce nothing, and the first error stays.
    EXPECT_FALSE(inspector.fromServer(handle(1, "h")));
    EXPECT_FALSE(inspector.fromClient(remove(2, "/x")));
    EXPECT_FALSE(inspector.fromServer(statusOk(2)));
    EXPECT_FALSE(inspector.fromClient(packet(0, "")));
    EXPECT_THAT(inspector.takeOperations(), IsEmpty());
    EXPECT_EQ(inspector.error(), error);
    EXPECT_FALSE(inspector.ok());
}

TEST(SftpInspector, TooManyOpenHandles) {
    SftpInspector inspector;
    inspector.fromClient(init());
    inspector.fromServer(version());
    for (std::uint32_t i = 0; i < SftpInspector::kMaxOpenHandles; ++i) {
        inspector.fromClient(open(i, "/f" + std::to_string(i), kRead));
        ASSERT_TRUE(inspector.fromServer(handle(i, "h" + std::to_string(i))));
    }
    EXPECT_EQ(inspector.takeOperations().size(), SftpInspector::kMaxOpenHandles);
    // Directory handles count too.
    inspector.fromClient(opendir(5000, "/d"));
    EXPECT_FALSE(inspector.fromServer(handle(5000, "dir")));
    EXPECT_EQ(inspector.error(), "sftp: more than 1024 open handles");
    EXPECT_THAT(inspector.takeOperations(), IsEmpty());
}

TEST(SftpInspector, ClosedHandlesFreeTheirSlot) {
    SftpInspector inspector;
    inspector.fromClient(init());
    inspector.fromServer(version());
    for (std::uint32_t i = 0; i < 3 * SftpInspector::kMaxOpenHandles; i += 2) {
        inspector.fromClient(open(i, "/f", kRead) + close(i + 1, "h"));
        inspector.fromServer(handle(i, "h") + statusOk(i + 1));
    }
    EXPECT_TRUE(inspector.ok()) << inspector.error();
}

TEST(SftpInspector, TooManyPendingRequests) {
    SftpInspector inspector;
    inspector.fromClient(init());
    inspector.fromServer(version());
    std::string requests;
    for (std::uint32_t i = 0; i < SftpInspector::kMaxPending; ++i) requests += lstat(i, "/x");
    EXPECT_TRUE(inspector.fromClient(requests));
    EXPECT_FALSE(inspector.fromClient(lstat(99999, "/x")));
    EXPECT_EQ(inspector.error(), "sftp: more than 4096 requests awaiting a reply");
}

TEST(SftpInspector, AnsweredRequestsFreeTheirSlot) {
    SftpInspector inspector;
    inspector.fromClient(init());
    inspector.fromServer(version());
    for (std::uint32_t i = 0; i < 3 * SftpInspector::kMaxPending; ++i) {
        inspector.fromClient(lstat(i, "/x"));
        inspector.fromServer(attrsReply(i));
    }
    EXPECT_TRUE(inspector.ok()) << inspector.error();
}

struct Malformed {
    const char* what;
    Session session;
    const char* error;
};

TEST(SftpInspector, MalformedStreamsAreErrors) {
    const std::string h = "h";
    const std::vector<Malformed> cases{
        {"open path longer than the packet", started({client(packet(3, u32(1) + u32(50) + "/x"))}),
         "sftp: malformed OPEN request"},
        {"open without pflags", started({client(packet(3, u32(1) + str("/x")))}),
         "sftp: malformed OPEN request"},
        {"open attrs claim a size that is missing",
         started({client(open(1, "/x", kRead, u32(0x1) + u32(7)))}),
         "sftp: malformed OPEN request"},
        {"setstat attrs claim more extended pairs than there are",
         started({client(setstat(1, "/x", u32(0x80000000) + u32(3) + str("a") + str("b")))}),
         "sftp: malformed SETSTAT request"},
        {"setstat attrs with a huge extended count",
         started({client(setstat(1, "/x", u32(0x80000000) + u32(0xffffffff)))}),
         "sftp: malformed SETSTAT request"},
        {"rename without the new name", started({client(packet(18, u32(1) + str("/a")))}),
         "sftp: malformed RENAME request"},
        {"request without an id", started({client(packet(13, "ab"))}),
         "sftp: malformed REMOVE request"},
        {"write data longer than the packet",
         started({client(packet(6, u32(1) + str(h) + u64(0) + u32(100) + "short"))}),
         "sftp: malformed WRITE request"},
        {"write handle longer than 256 bytes",
         started({client(write(1, std::string(300, 'h'), 0, "x"))}),
         "sftp: malformed WRITE request"},
        {"write cut before its data length", started({client(packet(6, u32(1) + str(h)))}),
         "sftp: malformed WRITE request"},
        {"extended name longer than the packet",
         started({client(packet(200, u32(1) + u32(1000) + "posix"))}),
         "sftp: malformed EXTENDED request"},
        {"posix-rename without names",
         started({client(extended(1, "posix-rename@openssh.com", str("/a")))}),
         "sftp: malformed EXTENDED request"},
        {"data longer than the packet",
         started({client(read(1, h, 0, 10)), server(packet(103, u32(1) + u32(11) + "0123456789"))}),
         "sftp: malformed DATA reply"},
        {"handle longer than 256 bytes",
         started({client(open(1, "/x", kRead)), server(handle(1, std::string(257, 'h')))}),
         "sftp: malformed HANDLE reply"},
        {"status message longer than the packet",
         started({server(packet(101, u32(1) + u32(0) + u32(10) + "abc"))}),
         "sftp: malformed STATUS reply"},
        {"reply without an id", started({server(packet(105, "x"))}), "sftp: malformed ATTRS reply"},
        {"empty packet", {client(u32(0))}, "sftp: empty packet"},
        {"client does not start with INIT",
         {client(open(1, "/x", kRead))},
         "sftp: the client did not start with INIT"},
        {"server does not start with VERSION",
         {client(init()), server(statusOk(1))},
         "sftp: the server did not start with VERSION"},
        {"version 6",
         {client(init()), server(version(6))},
         "sftp: protocol version 6 is not supported (only 3)"},
        {"second INIT", started({client(init())}), "sftp: a second INIT from the client"},
        {"second VERSION", started({server(version())}), "sftp: a second VERSION from the server"},
        {"request id reused before its reply",
         started({client(remove(7, "/a")), client(remove(7, "/b"))}),
         "sftp: request id 7 reused before its reply"},
        {"remove answered with a handle",
         started({client(remove(1, "/a")), server(handle(1, "h"))}),
         "sftp: HANDLE does not answer REMOVE"},
        {"open answered with ok but no handle",
         started({client(open(1, "/a", kRead)), server(statusOk(1))}),
         "sftp: STATUS ok does not answer OPEN"},
        {"read answered with a name", started({client(read(1, h, 0, 1)), server(name(1, "x"))}),
         "sftp: NAME does not answer READ"},
        {"server hands out a handle twice",
         started({client(open(1, "/a", kRead) + open(2, "/b", kRead)),
                  server(handle(1, "h") + handle(2, "h"))}),
         "sftp: the server returned a handle that is already open"},
    };
    for (const Malformed& c : cases) {
        const Outcome whole = run(c.session);
        EXPECT_EQ(whole.error, c.error) << c.what;
        const Outcome bytewise = run(c.session, 1);
        EXPECT_EQ(bytewise.error, c.error) << c.what << " (byte by byte)";
    }
}

TEST(SftpInspector, LenientWhereTheProtocolAllows) {
    const Outcome outcome = run(started({
        // A status without message and language tag (older servers).
        client(remove(1, "/a")),
        server(packet(101, u32(1) + u32(3))),
        // Unknown ATTRS flag bits carry no fields in version 3; bytes after a
        // request's fields are skipped as OpenSSH's server does.
        client(packet(14, u32(2) + str("/m") + u32(0x00f00000) + "xyz")),
        // Unknown request types are skipped unanswered.
        client(packet(99, "whatever")),
        server(statusOk(2)),
        // A reply to nothing the inspector saw asked.
        server(statusOk(12345) + packet(150, u32(3))),
    }));
    EXPECT_EQ(outcome.error, "");
    EXPECT_THAT(outcome.ops, ElementsAre("remove /a FAILED (permission denied)", "mkdir /m ok"));
}

TEST(SftpInspector, LongPathsAreKeptShortened) {
    const std::string longPath = "/" + std::string(10000, 'p');
    const Outcome outcome = run(started({client(remove(1, longPath)), server(statusOk(1))}));
    EXPECT_EQ(outcome.error, "");
    ASSERT_EQ(outcome.ops.size(), 1u);
    EXPECT_EQ(outcome.ops[0], "remove " + longPath.substr(0, 4096) + "[...] ok");
}

// Hostile input: random bytes, truncated and mutated sessions, fed in random
// pieces. Nothing may crash or throw; an error, once set, stays.
TEST(SftpInspector, GarbageNeverCrashes) {
    std::mt19937 random(1337);
    const auto byte = [&] { return static_cast<char>(random() & 0xff); };
    const auto below = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
    };
    const Session valid = everythingSession();
    std::string validClient, validServer;
    for (const Chunk& c : valid) (c.fromClient ? validClient : validServer) += c.bytes;

    for (int round = 0; round < 3000; ++round) {
        std::string c, s;
        switch (round % 3) {
            case 0:  // random bytes after a valid start, with small lengths now and then
                c = init();
                s = version();
                for (std::size_t i = below(400); i > 0; --i) {
                    c += below(8) == 0 ? u32(static_cast<std::uint32_t>(below(64)))
                                       : std::string(1, byte());
                    s += below(8) == 0 ? u32(static_cast<std::uint32_t>(below(64)))
                                       : std::string(1, byte());
                }
                break;
            case 1:  // a valid session cut anywhere
                c = validClient.substr(0, below(validClient.size() + 1));
                s = validServer.substr(0, below(validServer.size() + 1));
                break;
            default:  // a valid session with a few bytes changed
                c = validClient;
                s = validServer;
                for (std::size_t i = below(6) + 1; i > 0; --i) {
                    std::string& target = below(2) == 0 ? c : s;
                    // Bias towards the headers and small requests at the start.
                    target[below(std::min<std::size_t>(target.size(),
                                                       below(2) ? 400 : target.size()))] = byte();
                }
                break;
        }
        SftpInspector inspector;
        std::size_t ci = 0, si = 0;
        std::string firstError;
        while (ci < c.size() || si < s.size()) {
            const bool fromClient = si >= s.size() || (ci < c.size() && below(2) == 0);
            std::string& stream = fromClient ? c : s;
            std::size_t& at = fromClient ? ci : si;
            const std::size_t n = std::min(stream.size() - at, below(200) + 1);
            const std::string_view piece = std::string_view(stream).substr(at, n);
            const bool ok = fromClient ? inspector.fromClient(piece) : inspector.fromServer(piece);
            at += n;
            ASSERT_EQ(ok, inspector.ok());
            if (!ok) {
                ASSERT_FALSE(inspector.error().empty());
                if (firstError.empty()) firstError = inspector.error();
                ASSERT_EQ(inspector.error(), firstError);
            }
            for (const SftpOperation& op : inspector.takeOperations()) {
                ASSERT_FALSE(op.op.empty());
                ASSERT_LE(op.path.size(), 4096u + 5);
            }
        }
    }
}

// --- real traffic: OpenSSH's sftp client against OpenSSH's sftp-server -----

// Relays the client's stdin/stdout to a spawned sftp-server and logs every
// chunk in arrival order ('C' or 'S', 4-byte length, bytes), so a request is
// always logged before its reply. Writes are non-blocking and queued so that
// neither side can deadlock the other.
constexpr const char* kRelay = R"(import os, select, struct, subprocess, sys
log = open(sys.argv[1], "wb")
server = subprocess.Popen([sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
to_server = server.stdin.fileno()
from_server = server.stdout.fileno()
routes = {0: (b"C", to_server), from_server: (b"S", 1)}
queued = {to_server: bytearray(), 1: bytearray()}
for fd in queued:
    os.set_blocking(fd, False)
sources = set(routes)
while True:
    if 0 not in sources and not queued[to_server] and not server.stdin.closed:
        server.stdin.close()
    if from_server not in sources and not queued[1]:
        break
    readable = [fd for fd in sources if len(queued[routes[fd][1]]) < (1 << 20)]
    writable = [fd for fd, data in queued.items() if data]
    r, w, _ = select.select(readable, writable, [])
    for fd in w:
        try:
            del queued[fd][:os.write(fd, queued[fd])]
        except BlockingIOError:
            pass
        except OSError:
            queued[fd].clear()
    for fd in r:
        tag, dest = routes[fd]
        data = os.read(fd, 65536)
        if not data:
            sources.discard(fd)
            continue
        log.write(tag + struct.pack(">I", len(data)) + data)
        log.flush()
        queued[dest] += data
log.close()
server.wait()
)";

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kSftp = "/usr/bin/sftp";
constexpr const char* kSftpServer = "/usr/lib/openssh/sftp-server";

TEST(SftpInspectorRealTraffic, OpenSshClientAndServer) {
    namespace fs = std::filesystem;
    for (const char* program : {kPython, kSftp, kSftpServer}) {
        if (!fs::exists(program)) GTEST_SKIP() << program << " is not installed";
    }
    test::TempDir dir("portcullis-sftp");
    const fs::path local = dir.path() / "local";
    const fs::path remote = dir.path() / "remote";
    fs::create_directories(local);
    fs::create_directories(remote);
    const fs::path log = dir.path() / "traffic.log";
    test::writeFile(dir.path() / "relay.py", kRelay);
    test::writeFile(dir.path() / "server.sh",
                    "#!/bin/sh\nexec " + std::string(kPython) + " '" +
                        (dir.path() / "relay.py").string() + "' '" + log.string() + "' " +
                        kSftpServer + "\n",
                    0700);

    // Large enough for many pipelined WRITEs and READs and an odd tail.
    std::string content;
    std::mt19937 random(7);
    for (std::size_t i = 0; i < 300001; ++i) content += static_cast<char>(random() & 0xff);
    test::writeFile(local / "up.bin", content);

    const std::string up = (remote / "up.bin").string();
    const std::string moved = (remote / "moved.bin").string();
    const std::string hard = (remote / "hard.bin").string();
    const std::string soft = (remote / "soft.bin").string();
    const std::string sub = (remote / "sub").string();
    const std::string missing = (remote / "missing.bin").string();
    test::writeFile(dir.path() / "batch",
                    "put " + (local / "up.bin").string() + " " + up + "\n" +        //
                        "get " + up + " " + (local / "down.bin").string() + "\n" +  //
                        "rename " + up + " " + moved + "\n" +                       //
                        "chmod 600 " + moved + "\n" +                               //
                        "ln " + moved + " " + hard + "\n" +                         //
                        "ln -s " + moved + " " + soft + "\n" +                      //
                        "ls " + remote.string() + "\n" +                            //
                        "mkdir " + sub + "\n" +                                     //
                        "rmdir " + sub + "\n" +                                     //
                        "rm " + soft + "\n" +                                       //
                        "rm " + hard + "\n" +                                       //
                        "rm " + moved + "\n" +                                      //
                        "-rm " + missing + "\n");

    const test::ProcessResult result = test::runProcess(
        {kSftp, "-b", (dir.path() / "batch").string(), "-D", (dir.path() / "server.sh").string()});
    ASSERT_EQ(result.exitCode, 0) << test::describe(result);
    ASSERT_EQ(test::readFile(local / "down.bin"), content);

    // Replay the log in arrival order.
    const std::string traffic = test::readFile(log);
    SftpInspector inspector;
    std::vector<SftpOperation> ops;
    std::size_t at = 0;
    std::size_t chunks = 0;
    while (at < traffic.size()) {
        ASSERT_LE(at + 5, traffic.size());
        const char tag = traffic[at];
        std::uint32_t n = 0;
        for (std::size_t i = 1; i <= 4; ++i)
            n = (n << 8) | static_cast<std::uint8_t>(traffic[at + i]);
        ASSERT_LE(at + 5 + n, traffic.size());
        const std::string_view bytes = std::string_view(traffic).substr(at + 5, n);
        ASSERT_TRUE(tag == 'C' ? inspector.fromClient(bytes) : inspector.fromServer(bytes))
            << inspector.error();
        at += 5 + n;
        ++chunks;
        for (SftpOperation& op : inspector.takeOperations()) ops.push_back(std::move(op));
    }
    EXPECT_GT(chunks, 10u);

    std::vector<std::string> described;
    for (const SftpOperation& op : ops) described.push_back(describe(op));
    const std::string size = std::to_string(content.size());
    EXPECT_THAT(
        described,
        ElementsAre("open " + up + " [write,create,truncate] ok",
                    "close " + up + " r=0 w=" + size + " ok", "open " + up + " [read] ok",
                    "close " + up + " r=" + size + " w=0 ok",
                    "rename " + up + " -> " + moved + " ok", "setstat " + moved + " ok",
                    "link " + moved + " -> " + hard + " ok",
                    "symlink " + moved + " -> " + soft + " ok", "mkdir " + sub + " ok",
                    "rmdir " + sub + " ok", "remove " + soft + " ok", "remove " + hard + " ok",
                    "remove " + moved + " ok", "remove " + missing + " FAILED (no such file)"));
}

}  // namespace
}  // namespace portcullis::recording
