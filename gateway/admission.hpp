#pragma once
// Admission: caps on connections that have not authenticated yet, over all
// sources and per source (OpenSSH's MaxStartups, PerSourceMaxStartups).
// A source is an IPv4 address or an IPv6 /64 (sourceBlock): one host of a
// network that hands out a /64 per site must not count as 2^64 sources.
// A Ticket holds one slot until it is released (authenticated) or destroyed.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::gateway {

// The source a peer address counts against: an IPv4 address as it is (an
// IPv4-mapped IPv6 address as its IPv4 address), an IPv6 address as its /64
// ("2001:db8:1:2::/64"). Text that is not an address is its own source.
std::string sourceBlock(std::string_view address);

class Admission : public std::enable_shared_from_this<Admission> {
  public:
    Admission(int maxTotal, int maxPerSource) : maxTotal_(maxTotal), maxPerSource_(maxPerSource) {}

    class Ticket {
      public:
        Ticket() = default;
        Ticket(std::shared_ptr<Admission> owner, std::string source)
            : owner_(std::move(owner)), source_(std::move(source)) {}
        Ticket(Ticket&&) noexcept = default;
        Ticket& operator=(Ticket&& other) noexcept {
            release();
            owner_ = std::move(other.owner_);
            source_ = std::move(other.source_);
            return *this;
        }
        ~Ticket() { release(); }
        void release() {
            if (owner_) owner_->leave(source_);
            owner_.reset();
        }
        explicit operator bool() const { return owner_ != nullptr; }

      private:
        std::shared_ptr<Admission> owner_;
        std::string source_;
    };

    // An empty ticket when a cap is reached (the caller drops the connection).
    Ticket enter(const std::string& source);
    // When the cap over all sources is what refused `source`: the source
    // holding the most slots, if it holds more than `source` would with this
    // connection. Its oldest stalled connection makes room (a flood from many
    // addresses cannot lock out everybody else).
    std::optional<std::string> busiestSourceAbove(const std::string& source);
    // Admits `source` beyond the overall cap, while a slot is being freed for it.
    Ticket enterInPlaceOf(const std::string& source);

    // A reloaded configuration: applies to the next connections.
    void setLimits(int maxTotal, int maxPerSource) {
        const std::lock_guard lock(mutex_);
        maxTotal_ = maxTotal;
        maxPerSource_ = maxPerSource;
    }

  private:
    void leave(const std::string& source);

    int maxTotal_;  // guarded by mutex_
    int maxPerSource_;
    std::mutex mutex_;
    int total_ = 0;
    std::map<std::string, int> perSource_;
};

}  // namespace portcullis::gateway
