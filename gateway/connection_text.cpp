#include "gateway/connection_text.hpp"

namespace portcullis::gateway {

std::string printable(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    return out;
}

std::string lockedText(const db::Lock& lock, const std::string& account,
                       const std::string& address) {
    switch (lock.kind) {
        case db::LockKind::user:
            return account + " is " + lock.userMessage();
        case db::LockKind::target:
            return "target " + lock.value + " is " + lock.userMessage();
        case db::LockKind::source:
            break;
    }
    return "connections from " + address + " are " + lock.userMessage();
}

nlohmann::json policyFailureDetails(const db::AccessRequest& request) {
    return {{"account", request.account}, {"login", request.login},
            {"target", request.target},   {"channel", db::channelName(request.channel)},
            {"allowed", false},           {"reasons", {"the gateway could not use its store"}}};
}

}  // namespace portcullis::gateway
