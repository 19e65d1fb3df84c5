#include "gateway/gateway_commands.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "common/shell_words.hpp"
#include "db/access_list.hpp"
#include "gateway/auth_messages.hpp"

namespace portcullis::gateway {
namespace {

std::string channelList(const std::set<db::Channel>& channels) {
    std::string out;
    for (const auto c : channels) out += (out.empty() ? "" : ",") + db::channelName(c);
    return out;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
    return out;
}

using Handler = std::function<CommandOutput(DbContext&, const std::string& account,
                                            const std::vector<std::string>& args, TimePoint now)>;

CommandOutput targets(DbContext& ctx, const std::string& account,
                      const std::vector<std::string>& args, TimePoint now) {
    const bool json = args.size() == 1 && args[0] == "--json";
    if (!args.empty() && !json) return {{}, "portcullis: usage: targets [--json]\n", 2};
    const auto entries = db::accessOf(ctx.db, account, now);
    return {json ? targetsJson(entries).dump(2) + "\n" : targetsText(account, entries, now), {}, 0};
}

const std::map<std::string, Handler>& commands() {
    static const std::map<std::string, Handler> table{{"targets", targets}};
    return table;
}

std::string commandNames() {
    std::string out;
    for (const auto& [name, handler] : commands()) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// What an operator may read of a command line in the audit: printable, bounded.
std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 256)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    return out;
}

}  // namespace

std::string targetsText(const std::string& account, const std::vector<db::AccessEntry>& entries,
                        TimePoint now) {
    if (entries.empty()) {
        return "Portcullis: " + account +
               " has no grant on any target; ask an administrator (portcullis grant)\n";
    }
    std::size_t width = 0;
    for (const auto& e : entries) width = std::max(width, e.target.size());
    std::string out =
        "Portcullis: what " + account + " may reach (now " + clockTimeUtc(now, {}) + ")\n\n";
    for (const auto& e : entries) {
        std::string when;
        if (e.usableNow) {
            when = e.nextChange ? "now, until " + clockTimeUtc(*e.nextChange, now) : "now";
        } else {
            when = e.nextChange ? "not now; opens " + clockTimeUtc(*e.nextChange, now) : "not now";
        }
        if (e.window) when += " (window " + *e.window + ")";
        out += "  " + e.target + std::string(width - e.target.size(), ' ') + "  as " +
               joined(e.logins) + "  " + channelList(e.channels) + "  " + when +
               "  sessions up to " + formatDuration(e.maxSession) +
               (e.expiresAt ? "  grant expires " + formatIso8601(*e.expiresAt) : "") + "  grant #" +
               std::to_string(e.grantId) + "  no approval needed\n";
    }
    out += "\nConnect with: ssh -p PORT " + account + ":TARGET@GATEWAY (or " + account +
           ":LOGIN@TARGET@GATEWAY)\n";
    return out;
}

nlohmann::json targetsJson(const std::vector<db::AccessEntry>& entries) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : entries) {
        nlohmann::json channels = nlohmann::json::array();
        for (const auto c : e.channels) channels.push_back(db::channelName(c));
        out.push_back({{"target", e.target},
                       {"grant_id", e.grantId},
                       {"logins", e.logins},
                       {"channels", channels},
                       {"window", e.window ? nlohmann::json(*e.window) : nlohmann::json()},
                       {"usable_now", e.usableNow},
                       {"next_change", e.nextChange ? nlohmann::json(formatIso8601(*e.nextChange))
                                                    : nlohmann::json()},
                       {"expires_at", e.expiresAt ? nlohmann::json(formatIso8601(*e.expiresAt))
                                                  : nlohmann::json()},
                       {"max_session_s", e.maxSession.count()},
                       {"approval_needed", false}});
    }
    return out;
}

CommandOutput runGatewayCommand(DbContext& ctx, const std::string& account,
                                const std::string& commandLine, const PeerInfo& peer,
                                TimePoint now) {
    CommandOutput result;
    std::vector<std::string> words;
    if (auto split = splitShellWords(commandLine); !split) {
        result = {{}, "portcullis: cannot read the command: " + split.error() + "\n", 1};
    } else if (split->empty()) {
        result = {
            {}, "portcullis: no command given; gateway commands: " + commandNames() + "\n", 1};
    } else {
        words = std::move(split).value();
        const auto it = commands().find(words[0]);
        if (it == commands().end()) {
            std::string reachable;
            for (const auto& t : reachableTargets(ctx, account))
                reachable += (reachable.empty() ? "" : ", ") + t;
            result = {{},
                      "portcullis: unknown command \"" + shown(words[0]) +
                          "\"; gateway commands: " + commandNames() + "; to reach a target, " +
                          "connect as " + account + ":TARGET or " + account +
                          ":LOGIN@TARGET (targets you may reach now: " +
                          (reachable.empty() ? "none" : reachable) + ")\n",
                      1};
        } else {
            result = it->second(ctx, account, {words.begin() + 1, words.end()}, now);
        }
    }
    nlohmann::json args = nlohmann::json::array();
    for (std::size_t i = 1; i < words.size(); ++i) args.push_back(shown(words[i]));
    auditEvent(ctx, "gateway.command", account, peer,
               {{"account", account},
                {"command", words.empty() ? shown(commandLine) : shown(words[0])},
                {"args", args},
                {"result", result.status == 0 ? "success" : "failure"},
                {"exit_status", result.status}});
    return result;
}

}  // namespace portcullis::gateway
