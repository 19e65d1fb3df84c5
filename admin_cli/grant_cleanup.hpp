#pragma once
// When an account, a group or a target is removed, the grants that name it are
// revoked and audited in the same transaction (issue 12, finding 6), so that a
// new account, group or target of the same name inherits nothing. Each
// revoked grant is an `admin.grant.revoke` event with the reason.
#include <string>

#include <nlohmann/json.hpp>

#include "admin_cli/store.hpp"

namespace portcullis::cli {

// The live grants whose subject is exactly `subject` ("alice", "@oncall");
// returns their ids (a JSON array).
nlohmann::json revokeGrantsOfSubject(Store& store, const std::string& subject,
                                     const std::string& why);
// The live grants whose target pattern is exactly `target` (globs stay).
nlohmann::json revokeGrantsOfTarget(Store& store, const std::string& target,
                                    const std::string& why);
// "#3, #7"
std::string grantIdList(const nlohmann::json& ids);

}  // namespace portcullis::cli
