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
    if (request.channel == Channel::forward && request.destination && !g.forwardTo.empty() &&
        !forwardAllowed(g.forwardTo, request.destination->host, request.destination->port)) {
        out.push_back(prefix + "destination " + request.destination->toString() + " not in " +
                      bracketList(g.forwardTo));
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

    // An administrator's lock denies whatever the grants say (SPEC §16).
    const LockQuery query{request.account, inputs.target->name, request.source};
    for (const auto& lock : inputs.locks) {
        if (!lockApplies(lock, query, request.at)) continue;
        d.reasons.push_back(lock.denialReason());
        if (!d.lock) d.lock = lock;
        accountUsable = false;
    }

    const Target& target = *inputs.target;
    d.login = request.login.empty() ? target.defaultLogin : request.login;

    std::vector<const Grant*> matching;
    bool anyCandidate = false;
    for (const auto& g : inputs.grants) {
        if (!subjectMatches(g, request.account, inputs.accountGroups)) continue;
        if (!globMatch(g.targetPattern, target.name)) continue;
        anyCandidate = true;
        auto why = mismatches(g, target, d.login, request);
        if (g.window && !why.empty()) {
            if (auto window = AccessWindow::parse(*g.window);
                window && !window->contains(request.at)) {
                const auto opens = window->nextChange(request.at);
                if (opens && (!d.opensAt || *opens < *d.opensAt)) d.opensAt = opens;
            }
        }
        if (why.empty()) {
            matching.push_back(&g);
        } else {
            // Only its destination was refused: the user may learn what is allowed.
            if (why.size() == 1 && !g.forwardTo.empty() &&
                why.front().find(": destination ") != std::string::npos) {
                d.forwardPatterns.insert(d.forwardPatterns.end(), g.forwardTo.begin(),
                                         g.forwardTo.end());
            }
            d.reasons.insert(d.reasons.end(), why.begin(), why.end());
        }
    }
    if (!anyCandidate)
        d.reasons.push_back("no grant for " + request.account + " on " + target.name);
    if (matching.empty() || !accountUsable) return d;

    // Allowed: the governing grant is the most generous one (see Decision).
    struct Candidate {
        const Grant* grant;
        std::optional<TimePoint> forcedEnd;
        std::string cause;
        Seconds maxSession;
        Seconds idleTimeout;
        TimePoint end;
    };
    std::optional<Candidate> used;
    for (const Grant* g : matching) {
        Candidate c{
            g,
            g->expiresAt,
            g->expiresAt ? "grant #" + std::to_string(g->id) + " expires" : std::string(),
            ceiling.maxSession ? std::min(g->maxSession, *ceiling.maxSession) : g->maxSession,
            ceiling.idleTimeout ? std::min(g->idleTimeout, *ceiling.idleTimeout) : g->idleTimeout,
            {}};
        if (g->window) {
            if (auto window = AccessWindow::parse(*g->window)) {
                const auto closes = window->nextChange(request.at);
                if (closes && (!c.forcedEnd || *closes < *c.forcedEnd)) {
                    c.forcedEnd = closes;
                    c.cause = "the window " + *g->window + " of grant #" + std::to_string(g->id) +
                              " closes";
                }
            }
        }
        c.end = request.at + c.maxSession;
        if (c.forcedEnd && *c.forcedEnd < c.end) c.end = *c.forcedEnd;
        const auto better = [&](const Candidate& a, const Candidate& b) {
            if (a.end != b.end) return a.end > b.end;
            if (a.forcedEnd.has_value() != b.forcedEnd.has_value()) return !a.forcedEnd;
            if (a.forcedEnd && *a.forcedEnd != *b.forcedEnd) return *a.forcedEnd > *b.forcedEnd;
            if (a.idleTimeout != b.idleTimeout) return a.idleTimeout > b.idleTimeout;
            return a.grant->id < b.grant->id;
        };
        if (!used || better(c, *used)) used = std::move(c);
    }

    d.allowed = true;
    d.grantId = used->grant->id;
    d.maxSession = used->maxSession;
    d.idleTimeout = used->idleTimeout;
    d.endsBy = used->forcedEnd;
    d.endsByCause = used->cause;
    d.matchingGrants = static_cast<int>(matching.size());
    d.opensAt.reset();
    d.reasons.clear();
    d.forwardPatterns.clear();
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
    inputs.locks =
        Locks(db_).matching(LockQuery{request.account, request.target, request.source}, request.at);
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
        inputs.locks = Locks(db_).matching(LockQuery{account, name, ""}, at);
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
