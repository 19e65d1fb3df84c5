#include "gateway/admission.hpp"

#include <algorithm>
#include <array>
#include <tuple>

namespace portcullis::gateway {

std::optional<std::size_t> chooseEvictionVictim(const std::vector<EvictionCandidate>& candidates,
                                                const std::map<std::string, int>& held,
                                                const std::string& newcomer) {
    const auto slotsOf = [&held](const std::string& source) {
        const auto it = held.find(source);
        return it == held.end() ? 0 : it->second;
    };
    const int mine = slotsOf(newcomer);
    std::optional<std::size_t> best;
    // Larger is a better victim: stalled first, then the busiest source, then the oldest.
    const auto rank = [&](const EvictionCandidate& c) {
        return std::tuple(!c.keyExchanged, slotsOf(c.source), ~c.id);
    };
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const auto& c = candidates[i];
        if (slotsOf(c.source) <= mine) continue;  // the newcomer's own source included
        if (!best || rank(c) > rank(candidates[*best])) best = i;
    }
    return best;
}

Admission::Ticket Admission::enter(const std::string& source) {
    const std::lock_guard lock(mutex_);
    auto& mine = perSource_[source];
    if (total_ >= maxTotal_ || mine >= maxPerSource_) {
        if (mine == 0) perSource_.erase(source);
        return {};
    }
    ++total_;
    ++mine;
    return Ticket(shared_from_this(), source);
}

std::optional<std::map<std::string, int>> Admission::holdersIfOnlyFull(const std::string& source) {
    const std::lock_guard lock(mutex_);
    if (total_ < maxTotal_) return std::nullopt;
    const auto it = perSource_.find(source);
    if (it != perSource_.end() && it->second >= maxPerSource_) return std::nullopt;
    return perSource_;
}

Admission::Ticket Admission::enterInPlaceOf(const std::string& source) {
    const std::lock_guard lock(mutex_);
    ++total_;
    ++perSource_[source];
    return Ticket(shared_from_this(), source);
}

void Admission::leave(const std::string& source) {
    const std::lock_guard lock(mutex_);
    --total_;
    auto it = perSource_.find(source);
    if (it != perSource_.end() && --it->second <= 0) perSource_.erase(it);
}

}  // namespace portcullis::gateway
