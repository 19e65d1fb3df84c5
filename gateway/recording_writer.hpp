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
// While a file is written it is checkpointed (SPEC §15): its size and the
// SHA-256 of what was written so far, taken from a copy of the running digest
// on the writer thread, once after the header and then whenever the file grew
// and kCheckpointInterval passed or kCheckpointBytes more were written. After
// a crash everything up to the last checkpoint can still be verified.
//
// A file may have a sidecar (NAME.secrets, mode 0600) for input sealed at a
// password prompt: appendSecret writes the sidecar line and then the cast's
// placeholder line in one job, so both are on disk before the job confirms.
//
// The queue is bounded by what the sessions hold: a channel forwards bytes
// only after their write was confirmed, and its buffers are bounded, so a
// slow disk makes the sessions wait (SSH flow control) instead of growing
// this queue or dropping data.
#include <atomic>
#include <chrono>
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

// The first `size` bytes of a file being written and their SHA-256.
struct FileCheckpoint {
    std::uint64_t size = 0;
    std::string sha256;
};

class RecordingWriter {
  public:
    class File;  // one recording file; shared with the jobs that touch it
    using FilePtr = std::shared_ptr<File>;
    using Done = std::function<void(Result<bool>)>;  // true, or why it failed
    using Sealed = std::function<void(Result<SealedFile>)>;
    // Runs on the writer thread, in the file's order.
    using Checkpointed = std::function<void(const FileCheckpoint&)>;
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    static constexpr int kDefaultLanes = 4;
    static constexpr std::chrono::seconds kCheckpointInterval{10};
    static constexpr std::uint64_t kCheckpointBytes = 16 * 1024 * 1024;
    // How often an idle lane looks for files that grew and are due.
    static constexpr std::chrono::milliseconds kCheckpointScan{500};

    // `clock` (tests) decides when a checkpoint is due; steady_clock by default.
    explicit RecordingWriter(Logger& log, int lanes = kDefaultLanes, Clock clock = {});
    ~RecordingWriter();  // writes what is queued, then stops
    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;

    // Creates `path` (which must not exist; mode 0600) and writes `header`;
    // `checkpointed` (optional) hears of every checkpoint, the first one
    // right after the header.
    FilePtr create(std::filesystem::path path, std::string header, Done done,
                   Checkpointed checkpointed = {});
    // Appends `bytes`; after a failed write every later one fails as well.
    void append(const FilePtr& file, std::string bytes, Done done);
    // Appends `sidecarLine` to the file's sidecar (created on first use:
    // PATH.secrets, mode 0600), then `bytes` to the file itself; `done` once
    // both are written. Either failing fails the file.
    void appendSecret(const FilePtr& file, std::string sidecarLine, std::string bytes, Done done);
    // fsync, close, and the file's size and SHA-256 (of what was written).
    void close(const FilePtr& file, Sealed done);
    // Finishes the queues and joins the threads (idempotent).
    void stop();

    // The sidecar of a recording file.
    static std::filesystem::path sidecarPath(const std::filesystem::path& file);

  private:
    struct Job {
        enum class Kind { create, append, secret, close } kind;
        FilePtr file;
        std::string bytes;
        std::string sidecar;
        Done done;
        Sealed sealed;
        Checkpointed checkpointed;
    };
    struct Lane {
        std::mutex mutex;
        std::condition_variable cv;
        std::deque<Job> queue;
        bool stopping = false;
        std::thread thread;
        // Only the lane's thread touches these.
        std::vector<std::weak_ptr<File>> open;  // files that take checkpoints
        std::chrono::steady_clock::time_point nextScan{};
    };
    void push(Job job);
    void run(Lane& lane);
    void execute(Job& job, Lane& lane);
    void checkpointIdle(Lane& lane);

    Logger& log_;
    Clock clock_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<std::size_t> nextLane_{0};
};

}  // namespace portcullis::gateway
