// portcullis session reveal ID --event N [--channel C]: decrypts one entry of
// input that was typed at a password-like prompt and sealed (issue 12 finding
// 8, SPEC §6), for an incident. The .cast shows `[hidden input, N bytes]` at
// event N; the bytes are in the recording's sidecar NAME.cast.secrets under
// master.key. Every reveal (and every failed attempt) is written to the audit
// chain as `session.reveal` with the operator before anything is shown, and a
// warning says so on stderr.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <limits>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/session_recordings.hpp"
#include "admin_cli/store.hpp"
#include "common/encoding.hpp"
#include "db/recordings.hpp"
#include "recording/hidden_input.hpp"
#include "recording/recording_reader.hpp"

namespace portcullis::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A sidecar holds one short line per hidden chunk; anything near this is not ours.
constexpr std::size_t kMaxSidecarBytes = 64 * 1024 * 1024;

void revealOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("event", "the event's number in the .cast (1 = the first event after the header), "
         "where the placeholder [hidden input, N bytes] is", cxxopts::value<std::string>(), "N")
        ("channel", "the session's channel (default: the first)", cxxopts::value<std::string>(),
         "C");
    // clang-format on
}

// The sidecar's text: a regular file (never a link), or nullopt when there is none.
std::optional<std::string> readSidecar(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT) return std::nullopt;
        throw Failure(path.string() + ": " + std::strerror(error) +
                      (error == ELOOP ? " (a link put in place of the sidecar; refusing it)" : ""));
    }
    struct stat st {};
    std::string text;
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              static_cast<std::uint64_t>(st.st_size) <= kMaxSidecarBytes;
    char buffer[65536];
    while (ok) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        ok = text.size() <= kMaxSidecarBytes;
    }
    ::close(fd);
    if (!ok) throw Failure(path.string() + " is not a readable sidecar of hidden input");
    return text;
}

std::optional<recording::HiddenInputEntry> findEntry(const std::string& text, std::int64_t event) {
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();  // a line cut by a crash
        auto entry =
            recording::parseHiddenInputLine(std::string_view(text).substr(start, end - start));
        if (entry && entry->event == event) return std::move(*entry);
        start = end + 1;
    }
    return std::nullopt;
}

// What the .cast shows at event N (its data when it is an input event).
std::optional<std::string> castEvent(const fs::path& file, std::int64_t event) {
    std::int64_t index = 0;
    std::optional<std::string> found;
    (void)recording::readRecording(file, [&](const recording::RecordingEvent& e) {
        if (++index < event) return true;
        if (e.stream == 'i') found = e.data;
        return false;
    });
    return found;
}

// The revealed bytes as JSON text, when they are valid UTF-8.
json textOrNull(const std::string& bytes) {
    try {
        json text = bytes;
        (void)text.dump();
        return text;
    } catch (const json::exception&) {
        return nullptr;
    }
}

int sessionReveal(Invocation& inv) {
    const auto eventText = inv.option("event");
    if (!eventText) {
        throw UsageError(
            "--event N is required: the number of the event showing "
            "[hidden input, N bytes] (usage: " +
            inv.commandLine() + " " + std::string(inv.spec().usage) + ")");
    }
    const std::int64_t event = requirePositiveInteger(*eventText, "--event");
    const std::optional<int> channel = channelOption(inv);

    Store store(inv.globals(), Store::Access::change);
    const auto session = requireSession(store.db(), inv.arg(0));
    const auto row =
        chooseRecording(session, db::Recordings(store.db()).forSession(session.id), channel);
    const std::string where = "session " + session.id + " channel " + std::to_string(row.channel);
    if (row.format != "cast") {
        throw Failure(where +
                      " is not a terminal recording: only terminal channels have hidden "
                      "input");
    }
    const fs::path file = requireRecordingFile(store.dir(), row);
    const fs::path sidecar(file.string() + ".secrets");
    const auto text = readSidecar(sidecar);
    std::optional<recording::HiddenInputEntry> entry;
    if (text) entry = findEntry(*text, event);
    if (!entry) {
        throw Failure(where + " has no hidden input at event " + std::to_string(event) +
                      " (events are numbered from 1 after the header; `portcullis session export " +
                      session.id + " --format cast` shows the [hidden input, N bytes] events)");
    }

    json details{
        {"session_id", session.id}, {"channel", row.channel},     {"event", event},
        {"bytes", entry->bytes},    {"account", session.account}, {"target", session.target}};
    const db::MasterKey key = store.masterKey();
    auto plain = key.open(entry->sealed,
                          recording::hiddenInputAssociatedData(session.id, row.channel, event));
    if (!plain) {
        details["result"] = "failed";
        details["reason"] = "does not open with this master.key";
        store.recordChange("session.reveal", details);
        throw Failure("the hidden input at event " + std::to_string(event) + " of " + where +
                      " does not open with this master.key: it was edited, moved from another "
                      "event, or sealed under another key (the attempt is audited)");
    }
    details["result"] = "revealed";
    // In the chain before anything is shown: a reveal that cannot be audited shows nothing.
    const std::int64_t auditId = store.recordChange("session.reveal", details);
    printError("WARNING: revealing hidden input typed in " + where + " (event " +
               std::to_string(event) + ", " + std::to_string(plain->size()) + " bytes) as " +
               operatorName() + "; recorded in the audit chain as session.reveal #" +
               std::to_string(auditId));
    const auto shown = castEvent(file, event);
    if (!shown || !recording::isHiddenInputPlaceholder(*shown)) {
        printError("note: event " + std::to_string(event) +
                   " of the .cast is not a hidden-input "
                   "placeholder; run `portcullis session verify " +
                   session.id + "`");
    }

    if (inv.json()) {
        std::string bytes(plain->view());
        json out{{"session_id", session.id},
                 {"channel", row.channel},
                 {"event", event},
                 {"t", static_cast<double>(entry->elapsedUs) / 1e6},
                 {"bytes", plain->size()},
                 {"text", textOrNull(bytes)},
                 {"base64", base64Encode(bytes)},
                 {"audit_event_id", auditId}};
        OPENSSL_cleanse(bytes.data(), bytes.size());
        printJson(out);
        return kExitOk;
    }
    // On a terminal control characters are shown as '?' (the bytes are the
    // user's, not trusted); piped, they are passed exactly.
    if (isTerminal(STDOUT_FILENO)) {
        std::cout << recording::displayLine(plain->view()) << '\n';
    } else {
        std::cout.write(reinterpret_cast<const char*>(plain->data()),
                        static_cast<std::streamsize>(plain->size()));
        std::cout << '\n';
    }
    std::cout.flush();
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> sessionRevealCommands() {
    return {
        {.path = "session reveal",
         .usage = "ID --event N [--channel C]",
         .summary = "decrypt input typed at a password prompt (shown as [hidden input, N bytes]); "
                    "audited",
         .run = sessionReveal,
         .options = revealOptions,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
