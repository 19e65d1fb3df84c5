#pragma once
// After a change that can end access (user disable, key remove, totp reset,
// user remove, revoke, ...), the CLI asks portcullisd to re-check the live
// connections at once (issue 12, finding 2), over the control socket:
//   {"op":"recheck","account":"NAME"}  or  {"op":"recheck"} (every connection)
//   -> {"ok":true,"connections":N}
// Best effort: no daemon, or an older one that answers {"ok":false,...}, is
// not an error (its periodic re-check still ends those sessions).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "db/state_dir.hpp"

namespace portcullis::cli {

struct RecheckOutcome {
    std::optional<int> connections;  // re-checked now; empty when the daemon did not
    std::string note;                // one line for a person
};

RecheckOutcome requestRecheck(const db::StateDir& dir, const std::optional<std::string>& account);

// The outcome as it goes into a command's --json object.
nlohmann::json recheckJson(const RecheckOutcome& outcome);

}  // namespace portcullis::cli
