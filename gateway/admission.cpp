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

void Admission::leave(const std::string& source) {
    const std::lock_guard lock(mutex_);
    --total_;
    auto it = perSource_.find(source);
    if (it != perSource_.end() && --it->second <= 0) perSource_.erase(it);
}

}  // namespace portcullis::gateway
