#pragma once
// RecordingWriter: the one thread that writes recording files, so that no
// event thread ever waits for the disk (SPEC §6). Jobs run in the order they
// were queued; each write goes to the file at once (one write(2) per event,
// no user-space buffering), so a crash loses at most the event being written.
// Every job reports back through its callback, on the writer thread: the
// caller posts to its own strand from there.
//
// The queue is bounded by what the sessions hold: a channel forwards bytes
// only after their write was confirmed, and its buffers are bounded, so a
// slow disk makes the sessions wait (SSH flow control) instead of growing
// this queue or dropping data.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.hpp"
#include "gateway/log.hpp"

namespace portcullis::gateway {

// What was written: size and SHA-256 of the file as it is on disk. `error`
// says why writing stopped early (the digest still covers what was written).
struct SealedFile {
    std::uint64_t size = 0;
    std::string sha256;
    std::optional<std::string> error;
};

class RecordingWriter {
  public:
    class File;  // one recording file; shared with the jobs that touch it
    using FilePtr = std::shared_ptr<File>;
    using Done = std::function<void(Result<bool>)>;  // true, or why it failed
    using Sealed = std::function<void(Result<SealedFile>)>;

    explicit RecordingWriter(Logger& log);
    ~RecordingWriter();  // writes what is queued, then stops
    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;

    // Creates `path` (which must not exist; mode 0600) and writes `header`.
    FilePtr create(std::filesystem::path path, std::string header, Done done);
    // Appends `bytes`; after a failed write every later one fails as well.
    void append(const FilePtr& file, std::string bytes, Done done);
    // fsync, close, and the file's size and SHA-256 (of what was written).
    void close(const FilePtr& file, Sealed done);
    // Finishes the queue and joins the thread (idempotent).
    void stop();

  private:
    struct Job {
        enum class Kind { create, append, close } kind;
        FilePtr file;
        std::string bytes;
        Done done;
        Sealed sealed;
    };
    void run();
    void execute(Job& job);

    Logger& log_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace portcullis::gateway
