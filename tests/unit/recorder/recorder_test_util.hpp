#pragma once
// Helpers for the gateway recording tests: a clock the test moves, a strand
// stand-in that the test thread drains, and waiting with a deadline.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace portcullis::gateway::testing {

// steady_clock's epoch plus what the test added.
class FakeClock {
  public:
    std::chrono::steady_clock::time_point now() const {
        return std::chrono::steady_clock::time_point(std::chrono::milliseconds(offsetMs_.load()) +
                                                     std::chrono::hours(1));
    }
    void advance(std::chrono::milliseconds by) { offsetMs_ += by.count(); }
    std::function<std::chrono::steady_clock::time_point()> function() {
        return [this] { return now(); };
    }

  private:
    std::atomic<long long> offsetMs_{0};
};

// What the connection's strand would run: posted from the writer threads,
// run on the test thread by pumpUntil.
class FakeStrand {
  public:
    std::function<void(std::function<void()>)> post() {
        return [this](std::function<void()> fn) {
            {
                const std::lock_guard lock(mutex_);
                queue_.push_back(std::move(fn));
            }
            cv_.notify_all();
        };
    }
    // Runs what was posted until `done()` holds or the deadline passes.
    bool pumpUntil(const std::function<bool()>& done,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            std::function<void()> fn;
            {
                std::unique_lock lock(mutex_);
                if (!cv_.wait_until(lock, deadline, [&] { return !queue_.empty(); })) return done();
                fn = std::move(queue_.front());
                queue_.pop_front();
            }
            fn();
        }
        return true;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
};

// Polls `done` (set from other threads) until it holds or the deadline passes.
inline bool waitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace portcullis::gateway::testing
