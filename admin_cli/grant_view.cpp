#include "admin_cli/grant_view.hpp"

namespace portcullis::cli {
namespace {

std::string loginsText(const db::Grant& g) {
    return g.logins.empty() ? "(default login)" : joinList(g.logins);
}

}  // namespace

std::string allowText(const db::Grant& g) {
    const auto channels = channelList(g.channels);
    return g.forwardTo.empty() ? channels
                               : channels + " (forward to " + joinList(g.forwardTo) + ")";
}

std::string channelList(const std::set<db::Channel>& channels) {
    std::string out;
    for (const auto c : channels) out += (out.empty() ? "" : ",") + db::channelName(c);
    return out;
}

std::string grantStatus(const db::Grant& grant, TimePoint now) {
    if (grant.revokedAt) return "revoked";
    if (grant.expiresAt && *grant.expiresAt <= now) return "expired";
    return "active";
}

nlohmann::json grantJson(const db::Grant& g, TimePoint now) {
    nlohmann::json channels = nlohmann::json::array();
    for (const auto c : g.channels) channels.push_back(db::channelName(c));
    return {{"id", g.id},
            {"subject", g.subject},
            {"target", g.targetPattern},
            {"logins", g.logins},
            {"allow", channels},
            {"forward_to", g.forwardTo},
            {"max_session_s", g.maxSession.count()},
            {"idle_timeout_s", g.idleTimeout.count()},
            {"window", g.window ? nlohmann::json(*g.window) : nlohmann::json(nullptr)},
            {"expires_at", isoTimeOrNull(g.expiresAt)},
            {"reason", g.reason},
            {"created_by", g.createdBy},
            {"created_at", isoTime(g.createdAt)},
            {"revoked_at", isoTimeOrNull(g.revokedAt)},
            {"revoked_by", g.revokedAt ? nlohmann::json(g.revokedBy) : nlohmann::json(nullptr)},
            {"status", grantStatus(g, now)}};
}

Table grantTable() {
    return Table({"ID", "SUBJECT", "TARGET", "LOGINS", "ALLOW", "MAX", "IDLE", "WINDOW", "EXPIRES",
                  "STATUS", "REASON"});
}

void addGrantRow(Table& table, const db::Grant& g, TimePoint now) {
    table.addRow({std::to_string(g.id), g.subject, g.targetPattern,
                  g.logins.empty() ? "(default)" : joinList(g.logins), allowText(g),
                  formatDuration(g.maxSession), formatDuration(g.idleTimeout),
                  g.window.value_or("-"), isoTimeOr(g.expiresAt, "never"), grantStatus(g, now),
                  orDash(g.reason)});
}

std::string describeGrant(const db::Grant& g) {
    std::string out = g.subject + " -> " + g.targetPattern + " as " + loginsText(g) + ", allow " +
                      allowText(g) + ", max session " + formatDuration(g.maxSession) +
                      ", idle timeout " + formatDuration(g.idleTimeout);
    if (g.window) out += ", window " + *g.window;
    out += g.expiresAt ? ", expires " + isoTime(*g.expiresAt) : ", no expiry";
    if (!g.reason.empty()) out += ", reason: " + g.reason;
    return out;
}

}  // namespace portcullis::cli
