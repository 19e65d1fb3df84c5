#include "db/policy.hpp"

#include <algorithm>

#include "common/access_window.hpp"
#include "common/glob.hpp"
#include "db/groups.hpp"

namespace portcullis::db {
namespace {

std::string bracketList(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += items[i];
    }
    return out + "]";
}

std::string channelList(const std::set<Channel>& channels) {
    if (channels.empty()) return "none";
    std::string out;
    for (const auto c : channels) {
        if (!out.empty()) out += ", ";
        out += channelName(c);
    }
    return out;
}

bool subjectMatches(const Grant& g, const std::string& account,
                    const std::vector<std::string>& groups) {
    if (g.subject == account) return true;
    if (g.subject.size() < 2 || g.subject.front() != '@') return false;
    const std::string_view group = std::string_view(g.subject).substr(1);
    return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// Every reason this grant does not allow the request; empty when it matches.
std::vector<std::string> mismatches(const Grant& g, const Target& target, const std::string& login,
                                    const AccessRequest& request) {
    std::vector<std::string> out;
    const std::string prefix = "grant #" + std::to_string(g.id) + ": ";
    if (g.revokedAt) {
        out.push_back(prefix + "revoked at " + formatIso8601(*g.revokedAt) +
                      (g.revokedBy.empty() ? "" : " by " + g.revokedBy));
    }
    const std::vector<std::string> logins =
        g.logins.empty() ? std::vector<std::string>{target.defaultLogin} : g.logins;
    if (std::find(logins.begin(), logins.end(), login) == logins.end()) {
        out.push_back(prefix + "login " + login + " not in " + bracketList(logins));
    }
    if (!g.channels.count(request.channel)) {
        out.push_back(prefix + "channel " + channelName(request.channel) + " not allowed (allows " +
                      channelList(g.channels) + ")");
    }
    if (g.window) {
        auto window = AccessWindow::parse(*g.window);
        if (!window) {
            out.push_back(prefix + "unreadable window '" + *g.window + "' (" + window.error() +
                          ")");
        } else if (!window->contains(request.at)) {
            out.push_back(prefix + "outside window " + *g.window);
        }
    }
    if (g.expiresAt && request.at >= *g.expiresAt) {
        out.push_back(prefix + "expired at " + formatIso8601(*g.expiresAt));
    }
    return out;
}

}  // namespace

Decision evaluate(const PolicyInputs& inputs, const AccessRequest& request,
                  const LimitCeiling& ceiling) {
    Decision d;  // deny by default
    bool accountUsable = false;
    if (!inputs.account) {
        d.reasons.push_back("unknown account " + request.account);
    } else {
        accountUsable = true;
        if (!inputs.account->enabled) {
            d.reasons.push_back("account " + request.account + " is disabled");
            accountUsable = false;
        }
        if (inputs.account->lockedAt(request.at) && !request.ongoing) {
            d.reasons.push_back("account " + request.account + " is locked until " +
                                formatIso8601(*inputs.account->lockedUntil));
            accountUsable = false;
        }
    }
    if (!inputs.target) d.reasons.push_back("unknown target " + request.target);
    if (!inputs.account || !inputs.target) return d;

    const Target& target = *inputs.target;
    d.login = request.login.empty() ? target.defaultLogin : request.login;

    std::vector<const Grant*> matching;
    bool anyCandidate = false;
    for (const auto& g : inputs.grants) {
        if (!subjectMatches(g, request.account, inputs.accountGroups)) continue;
        if (!globMatch(g.targetPattern, target.name)) continue;
        anyCandidate = true;
        auto why = mismatches(g, target, d.login, request);
        if (why.empty()) {
            matching.push_back(&g);
        } else {
            d.reasons.insert(d.reasons.end(), why.begin(), why.end());
        }
    }
    if (!anyCandidate)
        d.reasons.push_back("no grant for " + request.account + " on " + target.name);
    if (matching.empty() || !accountUsable) return d;

    // Allowed: the most generous limits among the matching grants, capped.
    const Grant* used = matching.front();
    Seconds maxSession{0};
    Seconds idleTimeout{0};
    bool endless = false;
    std::optional<TimePoint> latestExpiry;
    for (const Grant* g : matching) {
        if (g->maxSession > used->maxSession ||
            (g->maxSession == used->maxSession && g->id < used->id)) {
            used = g;
        }
        maxSession = std::max(maxSession, g->maxSession);
        idleTimeout = std::max(idleTimeout, g->idleTimeout);
        if (!g->expiresAt) {
            endless = true;
        } else if (!latestExpiry || *g->expiresAt > *latestExpiry) {
            latestExpiry = g->expiresAt;
        }
    }
    if (ceiling.maxSession) maxSession = std::min(maxSession, *ceiling.maxSession);
    if (ceiling.idleTimeout) idleTimeout = std::min(idleTimeout, *ceiling.idleTimeout);

    d.allowed = true;
    d.grantId = used->id;
    d.maxSession = maxSession;
    d.idleTimeout = idleTimeout;
    if (!endless) d.endsBy = latestExpiry;
    d.reasons.clear();
    return d;
}

namespace {

PolicyInputs loadInputs(Database& db, const std::string& account) {
    PolicyInputs inputs;
    if (auto a = Accounts(db).find(account)) inputs.account = std::move(a.value());
    if (!inputs.account) return inputs;
    inputs.accountGroups = Groups(db).groupsOf(account);
    GrantFilter filter;
    filter.user = account;
    inputs.grants = Grants(db).list(filter);
    return inputs;
}

}  // namespace

Decision Policy::decide(const AccessRequest& request, const LimitCeiling& ceiling) {
    PolicyInputs inputs = loadInputs(db_, request.account);
    if (auto t = Targets(db_).find(request.target)) inputs.target = std::move(t.value());
    return evaluate(inputs, request, ceiling);
}

std::vector<std::string> Policy::reachableTargets(const std::string& account, Channel channel,
                                                  TimePoint at) {
    std::vector<std::string> out;
    PolicyInputs inputs = loadInputs(db_, account);
    if (!inputs.account || inputs.grants.empty()) return out;
    for (auto& target : Targets(db_).list()) {
        // Some login: the target's default, or any login a grant names.
        std::vector<std::string> logins{target.defaultLogin};
        for (const auto& g : inputs.grants) {
            for (const auto& login : g.logins) {
                if (std::find(logins.begin(), logins.end(), login) == logins.end()) {
                    logins.push_back(login);
                }
            }
        }
        const std::string name = target.name;
        inputs.target = std::move(target);
        for (const auto& login : logins) {
            AccessRequest request{account, login, name, channel, at};
            if (evaluate(inputs, request).allowed) {
                out.push_back(name);
                break;
            }
        }
    }
    return out;
}

}  // namespace portcullis::db
