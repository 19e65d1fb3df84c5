#include "db/access_list.hpp"

#include <algorithm>

#include "common/access_window.hpp"
#include "common/glob.hpp"
#include "db/accounts.hpp"
#include "db/targets.hpp"

namespace portcullis::db {

std::vector<AccessEntry> accessOf(Database& db, const std::string& account, TimePoint now) {
    std::vector<AccessEntry> out;
    const auto found = Accounts(db).find(account);
    if (!found || !found->enabled) return out;
    GrantFilter filter;
    filter.user = account;  // the account's own grants and its groups'
    const auto grants = Grants(db).list(filter);
    for (const auto& target : Targets(db).list()) {
        for (const auto& g : grants) {
            if (g.revokedAt || (g.expiresAt && *g.expiresAt <= now)) continue;
            if (!globMatch(g.targetPattern, target.name)) continue;
            AccessEntry e;
            e.target = target.name;
            e.grantId = g.id;
            e.logins = g.logins.empty() ? std::vector<std::string>{target.defaultLogin} : g.logins;
            e.channels = g.channels;
            e.window = g.window;
            e.expiresAt = g.expiresAt;
            e.maxSession = g.maxSession;
            e.usableNow = !found->lockedAt(now);
            if (g.window) {
                auto window = AccessWindow::parse(*g.window);
                if (!window) {
                    e.usableNow = false;
                } else {
                    e.usableNow = e.usableNow && window->contains(now);
                    e.nextChange = window->nextChange(now);
                }
            }
            out.push_back(std::move(e));
        }
    }
    std::sort(out.begin(), out.end(), [](const AccessEntry& a, const AccessEntry& b) {
        return a.target != b.target ? a.target < b.target : a.grantId < b.grantId;
    });
    return out;
}

}  // namespace portcullis::db
