// The SFTP v3 inspector on an sftp channel: both directions are untrusted
// (the client is an authenticated but possibly hostile user, the server a
// possibly compromised target). The input is a sequence of chunks:
//   one control byte: bit 7 = direction (0 client, 1 server), bits 0-6 =
//   length (127: the next two bytes give it, little-endian), then the bytes.
// Fed once as framed and once with every chunk cut in two, the operations and
// the verdict must be the same (the inspector may be fed any split).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "recording/sftp_inspector.hpp"

namespace {

using portcullis::recording::SftpInspector;
using portcullis::recording::SftpOperation;

struct Chunk {
    bool fromServer;
    std::string_view bytes;
};

std::vector<Chunk> chunks(std::string_view input) {
    std::vector<Chunk> out;
    std::size_t pos = 0;
    while (pos < input.size()) {
        const auto control = static_cast<unsigned char>(input[pos++]);
        std::size_t length = control & 0x7f;
        if (length == 0x7f && pos + 2 <= input.size()) {
            length = static_cast<unsigned char>(input[pos]) |
                     static_cast<std::size_t>(static_cast<unsigned char>(input[pos + 1])) << 8;
            pos += 2;
        }
        const std::string_view bytes = input.substr(pos, length);
        pos += bytes.size();
        out.push_back({(control & 0x80) != 0, bytes});
    }
    return out;
}

struct Outcome {
    bool ok = true;
    std::vector<SftpOperation> operations;
};

bool same(const SftpOperation& a, const SftpOperation& b) {
    return a.op == b.op && a.path == b.path && a.path2 == b.path2 && a.flags == b.flags &&
           a.bytesRead == b.bytesRead && a.bytesWritten == b.bytesWritten && a.ok == b.ok &&
           a.status == b.status;
}

void feed(SftpInspector& inspector, const Chunk& chunk, std::string_view bytes, Outcome& outcome) {
    const bool ok = chunk.fromServer ? inspector.fromServer(bytes) : inspector.fromClient(bytes);
    FUZZ_CHECK(ok == inspector.ok());
    // Once malformed, always malformed (the channel is being closed).
    if (!outcome.ok) FUZZ_CHECK(!ok);
    if (!ok) FUZZ_CHECK(!inspector.error().empty());
    outcome.ok = ok;
    for (auto& op : inspector.takeOperations()) outcome.operations.push_back(std::move(op));
}

Outcome run(const std::vector<Chunk>& input, bool cut) {
    SftpInspector inspector;
    Outcome outcome;
    for (const Chunk& chunk : input) {
        if (!cut || chunk.bytes.size() < 2) {
            feed(inspector, chunk, chunk.bytes, outcome);
        } else {
            const std::size_t half =
                1 + static_cast<unsigned char>(chunk.bytes[0]) % (chunk.bytes.size() - 1);
            feed(inspector, chunk, chunk.bytes.substr(0, half), outcome);
            feed(inspector, chunk, chunk.bytes.substr(half), outcome);
        }
    }
    return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = chunks(portcullis::fuzz::asText(data, size));
    const Outcome framed = run(input, false);
    const Outcome cut = run(input, true);
    FUZZ_CHECK(framed.ok == cut.ok);
    FUZZ_CHECK(framed.operations.size() == cut.operations.size());
    // PORTCULLIS_FUZZ_VERBOSE=1 when replaying one input: what was reported.
    if (std::getenv("PORTCULLIS_FUZZ_VERBOSE") != nullptr) {
        for (const SftpOperation& op : framed.operations) {
            std::fprintf(
                stderr, "%s path=%s path2=%s flags=%s read=%llu written=%llu ok=%d status=%s\n",
                op.op.c_str(), op.path.c_str(), op.path2.c_str(), op.flags.c_str(),
                static_cast<unsigned long long>(op.bytesRead),
                static_cast<unsigned long long>(op.bytesWritten), op.ok ? 1 : 0, op.status.c_str());
        }
        std::fprintf(stderr, "ok=%d\n", framed.ok ? 1 : 0);
    }
    std::uint64_t total = 0;
    for (const Chunk& chunk : input) total += chunk.bytes.size();
    for (std::size_t i = 0; i < framed.operations.size(); ++i) {
        const SftpOperation& op = framed.operations[i];
        FUZZ_CHECK(same(op, cut.operations[i]));
        FUZZ_CHECK(op.op == "open" || op.op == "close" || op.op == "remove" || op.op == "rename" ||
                   op.op == "link" || op.op == "symlink" || op.op == "mkdir" || op.op == "rmdir" ||
                   op.op == "setstat" || op.op == "fsetstat");
        // Byte counts come from the stream: never more than was fed.
        FUZZ_CHECK(op.bytesRead <= total && op.bytesWritten <= total);
        // "ok" (or "ok: " and an unusual server message) exactly when it succeeded.
        FUZZ_CHECK(op.ok == (op.status == "ok" || op.status.rfind("ok: ", 0) == 0));
    }
    return 0;
}
