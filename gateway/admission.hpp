#pragma once
// Admission: caps on connections that have not authenticated yet, over all
// sources and per source (OpenSSH's MaxStartups, PerSourceMaxStartups).
// A source is an IPv4 address or an IPv6 /64 (sourceBlock): one host of a
// network that hands out a /64 per site must not count as 2^64 sources.
// A Ticket holds one slot until it is released (authenticated) or destroyed.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/source_address.hpp"

namespace portcullis::gateway {

// The source a peer address counts against (common/source_address.hpp).
using portcullis::sourceBlock;

// An unauthenticated connection that might make room for a newcomer.
struct EvictionCandidate {
    std::string source;  // sourceBlock of its address
    bool keyExchanged;   // past key exchange (real clients are within milliseconds)
    std::uint64_t id;    // lower is older
};

// When every pre-auth slot is taken: which candidate gives its slot to a
// newcomer from `newcomer`, if any. Only a connection of a source holding more
// slots than the newcomer's may go (a source cannot push out its equals, so a
// flood cannot evict a real user's connection for one of its own); among
// those, one still stalled in key exchange first, then the source holding the
// most, then the oldest. `held`: slots per source (Admission::holdersIfOnlyFull).
std::optional<std::size_t> chooseEvictionVictim(const std::vector<EvictionCandidate>& candidates,
                                                const std::map<std::string, int>& held,
                                                const std::string& newcomer);

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
        // The source the slot counts against (kept after release).
        const std::string& source() const { return source_; }

      private:
        std::shared_ptr<Admission> owner_;
        std::string source_;
    };

    // An empty ticket when a cap is reached (the caller drops the connection).
    Ticket enter(const std::string& source);
    // When the cap over all sources (not the source's own) is what refused
    // `source`: the slots each source holds now, `source` included. A
    // connection of a source holding more than `source` may make room for it
    // (Server::makeRoomFor), so that a flood from many addresses cannot lock
    // out everybody else.
    std::optional<std::map<std::string, int>> holdersIfOnlyFull(const std::string& source);
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
