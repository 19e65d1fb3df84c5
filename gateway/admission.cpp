#include "gateway/admission.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <tuple>

namespace portcullis::gateway {

std::string sourceBlock(std::string_view address) {
    const std::string text(address);
    std::array<unsigned char, 16> bytes{};
    if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1)
        return text;  // IPv4, or not an address
    constexpr std::array<unsigned char, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), bytes.begin())) {
        char v4[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, bytes.data() + 12, v4, sizeof v4) != nullptr) return v4;
    }
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    char v6[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, bytes.data(), v6, sizeof v6) == nullptr) return text;
    return std::string(v6) + "/64";
}

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
