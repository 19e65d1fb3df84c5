#pragma once
// What a connection tells users, logs and the audit chain in more than one of
// its parts (authentication, channels, the live session): names made safe to
// show, the text of a lock, the audit details of a decision the store could
// not take.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "db/locks.hpp"
#include "db/policy.hpp"

namespace portcullis::gateway {

inline constexpr const char* kStoreUnavailable =
    "portcullis: the gateway cannot use its store right now; try again in a minute";

// A user name as it may appear in logs and audit events: printable, bounded.
std::string printable(std::string_view text);
// What a user refused by a lock reads (SPEC §16): whom it names and why.
std::string lockedText(const db::Lock& lock, const std::string& account,
                       const std::string& address);
// A policy decision that could not be taken (the store failed), as audited.
nlohmann::json policyFailureDetails(const db::AccessRequest& request);

}  // namespace portcullis::gateway
