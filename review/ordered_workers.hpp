#pragma once
// Work over a list of jobs on a few threads, results taken in job order (so
// that output is printed in order while later jobs already run).
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.hpp"

namespace portcullis::review {

// Runs `work` over the jobs on a few threads and hands the results back in
// job order. At most `windowPerThread` results per thread wait to be taken
// (bounding the memory held); stop() (or the
// destructor) lets running jobs finish and starts no new one.
template <class Job, class Output>
class OrderedWorkers {
  public:
    using Work = std::function<Result<Output>(const Job&, unsigned worker)>;

    OrderedWorkers(const std::vector<Job>& jobs, unsigned threads, std::size_t windowPerThread,
                   Work work)
        : jobs_(jobs), work_(std::move(work)), window_(threads * windowPerThread) {
        for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
    }
    ~OrderedWorkers() {
        stop();
        for (auto& t : threads_) t.join();
    }
    OrderedWorkers(const OrderedWorkers&) = delete;
    OrderedWorkers& operator=(const OrderedWorkers&) = delete;

    // The next job's result, waiting for it; nullopt after the last one.
    std::optional<Result<Output>> next() {
        std::unique_lock lock(mutex_);
        if (nextOut_ == jobs_.size()) return std::nullopt;
        changed_.wait(lock, [&] { return done_.contains(nextOut_); });
        auto node = done_.extract(nextOut_++);
        changed_.notify_all();
        return std::move(node.mapped());
    }
    void stop() {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        changed_.notify_all();
    }

  private:
    void run(unsigned worker) {
        for (;;) {
            std::size_t index = 0;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return stopping_ || nextJob_ < nextOut_ + window_; });
                if (stopping_ || nextJob_ == jobs_.size()) return;
                index = nextJob_++;
            }
            Result<Output> result = makeError("");
            try {
                result = work_(jobs_[index], worker);
            } catch (const std::exception& e) {
                result = makeError(e.what());
            }
            std::lock_guard lock(mutex_);
            done_.emplace(index, std::move(result));
            changed_.notify_all();
        }
    }

    const std::vector<Job>& jobs_;
    Work work_;
    std::size_t window_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t nextJob_ = 0;  // the next job a worker takes
    std::size_t nextOut_ = 0;  // the next result next() returns
    bool stopping_ = false;
    std::map<std::size_t, Result<Output>> done_;
    std::vector<std::thread> threads_;  // last: started once everything else is ready
};

}  // namespace portcullis::review
