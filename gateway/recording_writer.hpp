#pragma once
// RecordingWriter: the threads that write recording files, so that no event
// thread ever waits for the disk (SPEC §6). Each file is pinned to one of a
// few lanes (one thread and queue each): a file's jobs run in the order they
// were queued, and one file's slow write(2) or fsync holds up only the files
// that share its lane. Each write goes to the file at once (one write(2) per
// event, no user-space buffering), so a crash loses at most the event being
// written. Every job reports back through its callback, on the writer thread:
// the caller posts to its own strand from there.
//
// The queue is bounded by what the sessions hold: a channel forwards bytes
// only after their write was confirmed, and its buffers are bounded, so a
// slow disk makes the sessions wait (SSH flow control) instead of growing
// this queue or dropping data.
#include <atomic>
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
#include <vector>

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

    static constexpr int kDefaultLanes = 4;

    explicit RecordingWriter(Logger& log, int lanes = kDefaultLanes);
    ~RecordingWriter();  // writes what is queued, then stops
    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;

    // Creates `path` (which must not exist; mode 0600) and writes `header`.
    FilePtr create(std::filesystem::path path, std::string header, Done done);
    // Appends `bytes`; after a failed write every later one fails as well.
    void append(const FilePtr& file, std::string bytes, Done done);
    // fsync, close, and the file's size and SHA-256 (of what was written).
    void close(const FilePtr& file, Sealed done);
    // Finishes the queues and joins the threads (idempotent).
    void stop();

  private:
    struct Job {
        enum class Kind { create, append, close } kind;
        FilePtr file;
        std::string bytes;
        Done done;
        Sealed sealed;
    };
    struct Lane {
        std::mutex mutex;
        std::condition_variable cv;
        std::deque<Job> queue;
        bool stopping = false;
        std::thread thread;
    };
    void push(Job job);
    void run(Lane& lane);
    void execute(Job& job);

    Logger& log_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<std::size_t> nextLane_{0};
};

}  // namespace portcullis::gateway
