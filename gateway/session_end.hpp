#pragma once
// How a live session ended: the status its row gets (SPEC §4 `session list`).
#include <string_view>

namespace portcullis::gateway {

enum class SessionEndStatus {
    closed,   // the client or the target ended it, or the gateway shut down
    failed,   // the gateway had to end it: recording failed, flow-control violation
    expired,  // the time limit (max session, the grant's end)
    idle,     // the idle timeout
    killed,   // an administrator's `session kill`
    locked,   // a lock on the account, target or source (SPEC §16)
    revoked,  // a re-check refused it (grant revoked, account disabled, ...)
};

constexpr std::string_view sessionStatus(SessionEndStatus status) {
    switch (status) {
        case SessionEndStatus::closed:
            return "closed";
        case SessionEndStatus::failed:
            return "failed";
        case SessionEndStatus::expired:
            return "expired";
        case SessionEndStatus::idle:
            return "idle";
        case SessionEndStatus::killed:
            return "killed";
        case SessionEndStatus::locked:
            return "locked";
        case SessionEndStatus::revoked:
            return "revoked";
    }
    return "closed";
}

}  // namespace portcullis::gateway
