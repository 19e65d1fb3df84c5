#pragma once
// How a grant is shown: JSON object, table row, one-line description.
// Shared by `grant`, `policy list` and `target show`.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "admin_cli/output.hpp"
#include "db/grants.hpp"

namespace portcullis::cli {

std::string channelList(const std::set<db::Channel>& channels);
// The channels, and where forwards may go when the grant limits them:
// "shell,forward (forward to db.internal:5432)".
std::string allowText(const db::Grant& grant);
// "active", "expired" or "revoked".
std::string grantStatus(const db::Grant& grant, TimePoint now);
nlohmann::json grantJson(const db::Grant& grant, TimePoint now);

Table grantTable();
void addGrantRow(Table& table, const db::Grant& grant, TimePoint now);

// "alice -> cosigner-1 as root, allow shell,exec, max session 1h, idle timeout 15m, ..."
std::string describeGrant(const db::Grant& grant);

}  // namespace portcullis::cli
