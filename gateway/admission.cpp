#include "gateway/admission.hpp"

namespace portcullis::gateway {

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
