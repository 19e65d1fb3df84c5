#pragma once
// A byte queue with high and low watermarks (hysteresis): once it holds
// `high` bytes or more it asks its producer to stop (readPaused()), and it
// lets the producer resume only when it has drained to `low` (= high / 2).
#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::gateway {

class WatermarkBuffer {
  public:
    explicit WatermarkBuffer(std::size_t high) : high_(high), low_(high / 2) {}

    std::size_t size() const { return data_.size() - start_; }
    bool empty() const { return size() == 0; }
    const char* data() const { return data_.data() + start_; }

    // Space for `n` more bytes at the end; commit(written) afterwards.
    char* prepare(std::size_t n) {
        compact();
        committed_ = data_.size();
        data_.resize(committed_ + n);
        return data_.data() + committed_;
    }
    void commit(std::size_t written) {
        data_.resize(committed_ + written);
        update();
    }
    void append(std::string_view bytes) {
        compact();
        data_.append(bytes);
        update();
    }
    void consume(std::size_t n) {
        start_ += n;
        if (start_ >= data_.size()) {
            data_.clear();
            start_ = 0;
            if (data_.capacity() > kKeepCapacity) data_.shrink_to_fit();
        }
        update();
    }

    // Drops all but the first `keep` bytes (what must never be sent).
    void truncate(std::size_t keep) {
        if (keep < size()) data_.resize(start_ + keep);
        update();
    }

    // The producer may add more only while this is false.
    bool readPaused() const { return paused_; }
    std::size_t high() const { return high_; }

  private:
    static constexpr std::size_t kKeepCapacity = 256 * 1024;  // idle sessions stay small

    void compact() {
        if (start_ > 0 && start_ >= data_.size() / 2) {
            data_.erase(0, start_);
            start_ = 0;
        }
    }
    void update() {
        if (size() >= high_)
            paused_ = true;
        else if (size() <= low_)
            paused_ = false;
    }

    std::string data_;
    std::size_t start_ = 0;
    std::size_t committed_ = 0;
    std::size_t high_;
    std::size_t low_;
    bool paused_ = false;
};

}  // namespace portcullis::gateway
