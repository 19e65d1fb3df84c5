#include "gateway/admission.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

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

std::optional<std::string> Admission::busiestSourceAbove(const std::string& source) {
    const std::lock_guard lock(mutex_);
    if (total_ < maxTotal_) return std::nullopt;
    const auto it = perSource_.find(source);
    const int mine = it == perSource_.end() ? 0 : it->second;
    if (mine >= maxPerSource_) return std::nullopt;  // refused for its own source's cap
    std::optional<std::string> busiest;
    int most = mine + 1;
    for (const auto& [address, count] : perSource_) {
        if (count > most) {
            most = count;
            busiest = address;
        }
    }
    return busiest;
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
