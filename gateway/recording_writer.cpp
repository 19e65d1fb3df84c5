#include "gateway/recording_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "recording/file_digest.hpp"

namespace portcullis::gateway {

class RecordingWriter::File {
  public:
    File(std::filesystem::path path, std::size_t lane) : lane(lane), path_(std::move(path)) {}
    const std::size_t lane;  // the writer lane all its jobs go to
    ~File() {
        if (fd_ >= 0) ::close(fd_);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    Result<bool> create(const std::string& header) {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) return fail("cannot create recording " + path_.string(), errno);
        return write(header);
    }

    Result<bool> write(const std::string& bytes) {
        if (error_) return makeError(*error_);
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0)
                return fail("cannot write recording " + path_.string(), n < 0 ? errno : EIO);
            done += static_cast<std::size_t>(n);
        }
        hash_.update(bytes);
        size_ += bytes.size();
        return true;
    }

    Result<SealedFile> close() {
        if (fd_ < 0) return makeError(error_.value_or("recording was never created"));
        const int syncError = ::fsync(fd_) == 0 ? 0 : errno;
        const int closeError = ::close(fd_) == 0 ? 0 : errno;
        fd_ = -1;
        SealedFile sealed{size_, hash_.finishHex(), error_};
        if (!error_ && (syncError || closeError)) {
            sealed.error =
                fail("cannot flush recording " + path_.string(), syncError ? syncError : closeError)
                    .message;
        }
        return sealed;
    }

  private:
    Error fail(const std::string& what, int err) {
        error_ = what + ": " + std::strerror(err);
        return makeError(*error_);
    }

    std::filesystem::path path_;
    int fd_ = -1;
    std::optional<std::string> error_;
    std::uint64_t size_ = 0;
    recording::Sha256Stream hash_;
};

RecordingWriter::RecordingWriter(Logger& log, int lanes) : log_(log) {
    for (int i = 0; i < std::max(lanes, 1); ++i) lanes_.push_back(std::make_unique<Lane>());
    for (auto& lane : lanes_) {
        Lane& l = *lane;
        l.thread = std::thread([this, &l] { run(l); });
    }
}

RecordingWriter::~RecordingWriter() {
    stop();
}

RecordingWriter::FilePtr RecordingWriter::create(std::filesystem::path path, std::string header,
                                                 Done done) {
    auto file = std::make_shared<File>(std::move(path), nextLane_++ % lanes_.size());
    push(Job{Job::Kind::create, file, std::move(header), std::move(done), {}});
    return file;
}

void RecordingWriter::append(const FilePtr& file, std::string bytes, Done done) {
    push(Job{Job::Kind::append, file, std::move(bytes), std::move(done), {}});
}

void RecordingWriter::close(const FilePtr& file, Sealed done) {
    push(Job{Job::Kind::close, file, {}, {}, std::move(done)});
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
        Job job;
        {
            std::unique_lock lock(lane.mutex);
            lane.cv.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
            // What is queued is written even when stopping: those are the
            // last bytes and the seals of sessions being closed.
            if (lane.queue.empty()) return;
            job = std::move(lane.queue.front());
            lane.queue.pop_front();
        }
        try {
            execute(job);
        } catch (const std::exception& e) {
            log_.error("recording.job_failed", {{"error", e.what()}});
        }
    }
}

void RecordingWriter::execute(Job& job) {
    switch (job.kind) {
        case Job::Kind::create: {
            auto result = job.file->create(job.bytes);
            if (job.done) job.done(std::move(result));
            break;
        }
        case Job::Kind::append: {
            auto result = job.file->write(job.bytes);
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
