#include "gateway/recording_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "recording/file_digest.hpp"

namespace portcullis::gateway {
namespace {

// One write(2) loop; returns 0 or the errno that stopped it.
int writeAll(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

}  // namespace

class RecordingWriter::File {
  public:
    File(std::filesystem::path path, std::size_t lane) : lane(lane), path_(std::move(path)) {}
    const std::size_t lane;  // the writer lane all its jobs go to
    ~File() {
        if (fd_ >= 0) ::close(fd_);
        if (sidecarFd_ >= 0) ::close(sidecarFd_);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    Result<bool> create(const std::string& header, Checkpointed checkpointed,
                        std::chrono::steady_clock::time_point now) {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) return fail("cannot create recording " + path_.string(), errno);
        checkpointed_ = std::move(checkpointed);
        checkpointAt_ = now;
        auto written = write(header, now);
        if (written) checkpoint(now);  // the header: the first checkpoint
        return written;
    }

    Result<bool> write(const std::string& bytes, std::chrono::steady_clock::time_point now) {
        if (error_) return makeError(*error_);
        // A checkpoint before a write that would take the file more than
        // kCheckpointBytes past the last one keeps every gap within the limit.
        if (size_ > checkpointSize_ && size_ - checkpointSize_ + bytes.size() > kCheckpointBytes)
            checkpoint(now);
        if (const int err = writeAll(fd_, bytes))
            return fail("cannot write recording " + path_.string(), err);
        hash_.update(bytes);
        size_ += bytes.size();
        if (size_ - checkpointSize_ >= kCheckpointBytes || due(now)) checkpoint(now);
        return true;
    }

    Result<bool> writeSidecar(const std::string& line) {
        if (error_) return makeError(*error_);
        const auto path = sidecarPath(path_);
        if (sidecarFd_ < 0) {
            sidecarFd_ =
                ::open(path.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (sidecarFd_ < 0) return fail("cannot create " + path.string(), errno);
        }
        if (const int err = writeAll(sidecarFd_, line))
            return fail("cannot write " + path.string(), err);
        return true;
    }

    Result<SealedFile> close() {
        if (fd_ < 0) return makeError(error_.value_or("recording was never created"));
        int syncError = ::fsync(fd_) == 0 ? 0 : errno;
        int closeError = ::close(fd_) == 0 ? 0 : errno;
        fd_ = -1;
        if (sidecarFd_ >= 0) {
            if (::fsync(sidecarFd_) != 0 && !syncError) syncError = errno;
            if (::close(sidecarFd_) != 0 && !closeError) closeError = errno;
            sidecarFd_ = -1;
        }
        checkpointed_ = {};
        SealedFile sealed{size_, hash_.finishHex(), error_};
        if (!error_ && (syncError || closeError)) {
            sealed.error =
                fail("cannot flush recording " + path_.string(), syncError ? syncError : closeError)
                    .message;
        }
        return sealed;
    }

    // Still written, grown since the last checkpoint, and that was long enough ago.
    bool due(std::chrono::steady_clock::time_point now) const {
        return checkpointed_ && !error_ && fd_ >= 0 && size_ > checkpointSize_ &&
               now - checkpointAt_ >= kCheckpointInterval;
    }
    bool takesCheckpoints() const { return checkpointed_ && fd_ >= 0; }

    void checkpoint(std::chrono::steady_clock::time_point now) {
        if (!checkpointed_ || error_ || fd_ < 0) return;
        checkpointSize_ = size_;
        checkpointAt_ = now;
        checkpointed_(FileCheckpoint{size_, hash_.snapshotHex()});
    }

  private:
    Error fail(const std::string& what, int err) {
        error_ = what + ": " + std::strerror(err);
        return makeError(*error_);
    }

    std::filesystem::path path_;
    int fd_ = -1;
    int sidecarFd_ = -1;
    std::optional<std::string> error_;
    std::uint64_t size_ = 0;
    recording::Sha256Stream hash_;
    Checkpointed checkpointed_;
    std::uint64_t checkpointSize_ = 0;
    std::chrono::steady_clock::time_point checkpointAt_{};
};

RecordingWriter::RecordingWriter(Logger& log, int lanes, Clock clock)
    : log_(log), clock_(clock ? std::move(clock) : Clock(&std::chrono::steady_clock::now)) {
    for (int i = 0; i < std::max(lanes, 1); ++i) lanes_.push_back(std::make_unique<Lane>());
    for (auto& lane : lanes_) {
        Lane& l = *lane;
        l.thread = std::thread([this, &l] { run(l); });
    }
}

RecordingWriter::~RecordingWriter() {
    stop();
}

std::filesystem::path RecordingWriter::sidecarPath(const std::filesystem::path& file) {
    return std::filesystem::path(file.string() + ".secrets");
}

RecordingWriter::FilePtr RecordingWriter::create(std::filesystem::path path, std::string header,
                                                 Done done, Checkpointed checkpointed) {
    auto file = std::make_shared<File>(std::move(path), nextLane_++ % lanes_.size());
    push(Job{Job::Kind::create,
             file,
             std::move(header),
             {},
             std::move(done),
             {},
             std::move(checkpointed)});
    return file;
}

void RecordingWriter::append(const FilePtr& file, std::string bytes, Done done) {
    push(Job{Job::Kind::append, file, std::move(bytes), {}, std::move(done), {}, {}});
}

void RecordingWriter::appendSecret(const FilePtr& file, std::string sidecarLine, std::string bytes,
                                   Done done) {
    push(Job{Job::Kind::secret,
             file,
             std::move(bytes),
             std::move(sidecarLine),
             std::move(done),
             {},
             {}});
}

void RecordingWriter::close(const FilePtr& file, Sealed done) {
    push(Job{Job::Kind::close, file, {}, {}, {}, std::move(done), {}});
}

void RecordingWriter::push(Job job) {
    Lane& lane = *lanes_[job.file->lane];
    {
        const std::lock_guard lock(lane.mutex);
        lane.queue.push_back(std::move(job));
    }
    lane.cv.notify_one();
}

void RecordingWriter::stop() {
    for (auto& lane : lanes_) {
        {
            const std::lock_guard lock(lane->mutex);
            lane->stopping = true;
        }
        lane->cv.notify_all();
    }
    for (auto& lane : lanes_) {
        if (lane->thread.joinable()) lane->thread.join();
    }
}

void RecordingWriter::run(Lane& lane) {
    while (true) {
        std::optional<Job> job;
        {
            std::unique_lock lock(lane.mutex);
            auto ready = [&] { return lane.stopping || !lane.queue.empty(); };
            // With files open, wake up now and then: one that grew and then
            // went quiet is still checkpointed within the interval.
            if (lane.open.empty())
                lane.cv.wait(lock, ready);
            else
                lane.cv.wait_for(lock, kCheckpointScan, ready);
            // What is queued is written even when stopping: those are the
            // last bytes and the seals of sessions being closed.
            if (!lane.queue.empty()) {
                job.emplace(std::move(lane.queue.front()));
                lane.queue.pop_front();
            } else if (lane.stopping) {
                return;
            }
        }
        try {
            if (job) execute(*job, lane);
            checkpointIdle(lane);
        } catch (const std::exception& e) {
            log_.error("recording.job_failed", {{"error", e.what()}});
        }
    }
}

void RecordingWriter::checkpointIdle(Lane& lane) {
    if (lane.open.empty()) return;
    const auto now = clock_();
    if (now < lane.nextScan) return;
    lane.nextScan = now + kCheckpointScan;
    std::erase_if(lane.open, [&](const std::weak_ptr<File>& weak) {
        const auto file = weak.lock();
        if (!file || !file->takesCheckpoints()) return true;
        if (file->due(now)) file->checkpoint(now);
        return false;
    });
}

void RecordingWriter::execute(Job& job, Lane& lane) {
    switch (job.kind) {
        case Job::Kind::create: {
            const bool checkpoints = static_cast<bool>(job.checkpointed);
            auto result = job.file->create(job.bytes, std::move(job.checkpointed), clock_());
            if (result && checkpoints) lane.open.push_back(job.file);
            if (job.done) job.done(std::move(result));
            break;
        }
        case Job::Kind::append: {
            auto result = job.file->write(job.bytes, clock_());
            if (job.done) job.done(std::move(result));
            break;
        }
        case Job::Kind::secret: {
            auto result = job.file->writeSidecar(job.sidecar);
            if (result) result = job.file->write(job.bytes, clock_());
            if (job.done) job.done(std::move(result));
            break;
        }
        case Job::Kind::close: {
            auto result = job.file->close();
            if (job.sealed) job.sealed(std::move(result));
            break;
        }
    }
}

}  // namespace portcullis::gateway
