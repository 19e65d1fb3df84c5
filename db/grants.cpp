#include "db/grants.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "common/access_window.hpp"
#include "common/forward_pattern.hpp"
#include "common/glob.hpp"
#include "common/user_spec.hpp"

#include "db/targets.hpp"
#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

constexpr std::array<std::pair<Channel, const char*>, 4> kChannelNames = {{
    {Channel::shell, "shell"},
    {Channel::exec, "exec"},
    {Channel::sftp, "sftp"},
    {Channel::forward, "forward"},
}};

constexpr const char* kColumns =
    "SELECT id, subject, target_pattern, logins, channels, max_session, idle_timeout, "
    "time_window, expires_at, reason, created_by, created_at, revoked_at, revoked_by, forward_to "
    "FROM grants";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string> splitList(std::string_view text) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    std::size_t start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        out.emplace_back(trim(text.substr(start, comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

std::string joinList(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

std::string joinChannels(const std::set<Channel>& channels) {
    std::vector<std::string> names;
    for (const auto c : channels) names.push_back(channelName(c));
    return joinList(names);
}

bool isValidPattern(std::string_view pattern) {
    if (pattern.empty() || pattern.size() > 255) return false;
    return std::all_of(pattern.begin(), pattern.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-' || c == '*' || c == '?' || c == '[' || c == ']' ||
               c == '!';
    });
}

Grant readGrant(const Statement& st) {
    Grant g;
    g.id = st.int64(0);
    g.subject = st.text(1);
    g.targetPattern = st.text(2);
    g.logins = splitList(st.text(3));
    g.channels.clear();
    for (const auto& name : splitList(st.text(4))) {
        // An unknown stored name grants nothing (fail closed).
        if (auto c = parseChannel(name)) g.channels.insert(*c);
    }
    g.maxSession = Seconds{st.int64(5)};
    g.idleTimeout = Seconds{st.int64(6)};
    g.window = st.optText(7);
    if (auto e = st.optInt64(8)) g.expiresAt = fromUnix(*e);
    g.reason = st.text(9);
    g.createdBy = st.text(10);
    g.createdAt = fromUnix(st.int64(11));
    if (auto r = st.optInt64(12)) g.revokedAt = fromUnix(*r);
    g.revokedBy = st.text(13);
    g.forwardTo = splitList(st.text(14));
    return g;
}

bool rowExists(Database& db, const char* sql, const std::string& name) {
    auto st = db.prepare(sql);
    st.bind(1, name);
    return st.step();
}

Result<void> validateSubject(Database& db, const std::string& subject) {
    if (subject.size() > 1 && subject.front() == '@') {
        const auto group = subject.substr(1);
        if (!isValidName(group) || !rowExists(db, "SELECT 1 FROM groups WHERE name = ?", group)) {
            return makeError("unknown group " + subject +
                             " (create it with `portcullis group add " + group + "`)");
        }
        return {};
    }
    if (!isValidName(subject) || !rowExists(db, "SELECT 1 FROM accounts WHERE name = ?", subject)) {
        return makeError("unknown account " + subject + " (create it with `portcullis user add " +
                         subject + "`, or name a group as @GROUP)");
    }
    return {};
}

// Revokes each of these grants (live ones only) and returns them as revoked.
std::vector<Grant> revokeWhere(Database& db, const std::string& where, const std::string& value,
                               const std::string& by, TimePoint now) {
    Transaction tx(db);
    std::vector<Grant> revoked;
    {
        auto st = db.prepare(std::string(kColumns) + " WHERE revoked_at IS NULL AND " + where +
                             " ORDER BY id");
        st.bind(1, value);
        while (st.step()) revoked.push_back(readGrant(st));
    }
    auto update = db.prepare(
        "UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL");
    for (auto& g : revoked) {
        update.reset();
        update.bind(1, toUnix(now)).bind(2, by).bind(3, g.id).run();
        g.revokedAt = now;
        g.revokedBy = by;
    }
    tx.commit();
    return revoked;
}

}  // namespace

Result<void> checkWindowHours(const AccessWindow& window) {
    if (window.startMinute() == window.endMinute()) {
        return makeError(
            "its hours start and end at the same time, which allows no time or every "
            "hour depending on how it is read; give a range (for a whole day: 00:00-24:00, "
            "or days alone)");
    }
    return {};
}

Result<void> checkTargetGlob(std::string_view pattern) {
    const auto refuse = [&](const std::string& why) {
        return makeError("`" + std::string(pattern) + "` is not a valid target glob: " + why +
                         " (use * and ?, or a closed set such as cosigner-[12])");
    };
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == ']') return refuse("`]` without its `[`");
        if (c == '!') return refuse("`!` outside a set");
        if (c != '[') continue;
        // A set: an optional '!', then at least one character (a leading ']'
        // is one), up to the closing ']'.
        std::size_t j = i + 1;
        if (j < pattern.size() && pattern[j] == '!') ++j;
        if (j < pattern.size() && pattern[j] == ']') ++j;
        while (j < pattern.size() && pattern[j] != ']') {
            if (pattern[j] == '[') return refuse("`[` inside a set");
            ++j;
        }
        if (j >= pattern.size()) return refuse("the set opened by `[` is not closed");
        i = j;
    }
    return {};
}

bool isValidLoginName(std::string_view name) {
    if (isValidName(name)) return true;
    return name.size() > 1 && name.back() == '$' && isValidName(name.substr(0, name.size() - 1));
}

std::string channelName(Channel c) {
    for (const auto& [channel, name] : kChannelNames) {
        if (channel == c) return name;
    }
    return "unknown";
}

Result<Channel> parseChannel(std::string_view name) {
    const auto trimmed = trim(name);
    for (const auto& [channel, text] : kChannelNames) {
        if (trimmed == text) return channel;
    }
    return makeError("unknown channel '" + std::string(trimmed) +
                     "' (use shell, exec, sftp or forward)");
}

Result<std::set<Channel>> parseChannels(std::string_view list) {
    std::set<Channel> out;
    for (const auto& item : splitList(trim(list))) {
        if (item.empty()) {
            return makeError("empty channel name in '" + std::string(list) +
                             "' (use a comma-separated list such as shell,exec)");
        }
        auto c = parseChannel(item);
        if (!c) return makeError(c.error());
        out.insert(*c);
    }
    if (out.empty()) {
        return makeError("no channel given (use one or more of shell, exec, sftp, forward)");
    }
    return out;
}

Result<Grant> Grants::add(const Grant& grant, TimePoint now) {
    Grant g = grant;
    if (!isValidPattern(g.targetPattern)) {
        return makeError("invalid target '" + g.targetPattern +
                         "': a target name or a glob of A-Z a-z 0-9 . _ - * ? [ ] !");
    }
    std::vector<std::string> logins;
    for (const auto& login : g.logins) {
        if (!isValidLoginName(login)) return makeError("invalid login '" + login + "'");
        if (std::find(logins.begin(), logins.end(), login) == logins.end()) logins.push_back(login);
    }
    g.logins = std::move(logins);
    if (isGlob(g.targetPattern)) {
        if (auto r = checkTargetGlob(g.targetPattern); !r) return makeError(r.error());
    }
    if (g.channels.empty()) {
        return makeError("a grant needs at least one channel (shell, exec, sftp, forward)");
    }
    if (!g.forwardTo.empty()) {
        if (!g.channels.count(Channel::forward)) {
            return makeError(
                "--forward-to limits forwards, but the grant does not allow them (add forward "
                "to --allow)");
        }
        std::vector<std::string> patterns;
        for (const auto& text : g.forwardTo) {
            auto p = ForwardPattern::parse(text);
            if (!p) return makeError(p.error());
            const auto canonical = p->toString();
            if (std::find(patterns.begin(), patterns.end(), canonical) == patterns.end())
                patterns.push_back(canonical);
        }
        g.forwardTo = std::move(patterns);
    }
    if (g.window) {
        auto window = AccessWindow::parse(*g.window);
        if (!window) return makeError("invalid window '" + *g.window + "': " + window.error());
        if (auto r = checkWindowHours(*window); !r) {
            return makeError("invalid window '" + *g.window + "': " + r.error());
        }
        g.window = window->toString();
    }
    if (g.maxSession <= Seconds{0}) return makeError("--max-session must be positive");
    if (g.idleTimeout <= Seconds{0}) return makeError("--idle-timeout must be positive");
    if (g.expiresAt && *g.expiresAt <= now) {
        return makeError("expiry " + formatIso8601(*g.expiresAt) +
                         " is not in the future (now is " + formatIso8601(now) + ")");
    }

    std::int64_t id = 0;
    {
        Transaction tx(db_);
        if (auto r = validateSubject(db_, g.subject); !r) return makeError(r.error());
        auto st = db_.prepare(
            "INSERT INTO grants (subject, target_pattern, logins, channels, max_session, "
            "idle_timeout, time_window, expires_at, reason, created_by, created_at, forward_to) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        st.bind(1, g.subject)
            .bind(2, g.targetPattern)
            .bind(3, joinList(g.logins))
            .bind(4, joinChannels(g.channels))
            .bind(5, static_cast<std::int64_t>(g.maxSession.count()))
            .bind(6, static_cast<std::int64_t>(g.idleTimeout.count()))
            .bind(7, g.window)
            .bind(9, g.reason)
            .bind(10, g.createdBy)
            .bind(11, toUnix(now))
            .bind(8, toUnix(g.expiresAt))
            .bind(12, joinList(g.forwardTo))
            .run();
        id = db_.lastInsertId();
        tx.commit();
    }
    return find(id);
}

Result<std::vector<std::string>> Grants::targetsNamedBy(const std::string& pattern) {
    if (!isValidPattern(pattern)) {
        return makeError("invalid target '" + pattern +
                         "': a target name or a glob of A-Z a-z 0-9 . _ - * ? [ ] !");
    }
    std::vector<std::string> matches;
    if (!isGlob(pattern)) {
        if (!Targets(db_).find(pattern)) {
            return makeError("no target named " + pattern +
                             " (see `portcullis target list`; add it first with `portcullis "
                             "target add " +
                             pattern + " --host H --scan`, or give a glob such as " + pattern +
                             "*)");
        }
        matches.push_back(pattern);
        return matches;
    }
    if (auto r = checkTargetGlob(pattern); !r) return makeError(r.error());
    for (const auto& t : Targets(db_).list()) {
        if (globMatch(pattern, t.name)) matches.push_back(t.name);
    }
    return matches;
}

Result<Grant> Grants::find(std::int64_t id) {
    auto st = db_.prepare(std::string(kColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) {
        return makeError("no grant #" + std::to_string(id) + " (see `portcullis policy list`)");
    }
    return readGrant(st);
}

std::vector<Grant> Grants::list(const GrantFilter& filter) {
    std::vector<std::string> subjects;
    if (filter.user) {
        subjects.push_back(*filter.user);
        auto st = db_.prepare(
            "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id "
            "JOIN accounts a ON a.id = m.account_id WHERE a.name = ?");
        st.bind(1, *filter.user);
        while (st.step()) subjects.push_back("@" + st.text(0));
    }

    auto st =
        db_.prepare(std::string(kColumns) +
                    (filter.includeRevoked ? "" : " WHERE revoked_at IS NULL") + " ORDER BY id");
    std::vector<Grant> out;
    while (st.step()) {
        Grant g = readGrant(st);
        if (filter.user &&
            std::find(subjects.begin(), subjects.end(), g.subject) == subjects.end()) {
            continue;
        }
        if (filter.target && !globMatch(g.targetPattern, *filter.target)) continue;
        out.push_back(std::move(g));
    }
    return out;
}

Result<Grant> Grants::revoke(std::int64_t id, const std::string& by, TimePoint now) {
    {
        Transaction tx(db_);
        auto current = find(id);
        if (!current) return makeError(current.error());
        if (current->revokedAt) {
            return makeError("grant #" + std::to_string(id) + " was already revoked at " +
                             formatIso8601(*current->revokedAt) +
                             (current->revokedBy.empty() ? "" : " by " + current->revokedBy));
        }
        db_.prepare("UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ?")
            .bind(1, toUnix(now))
            .bind(2, by)
            .bind(3, id)
            .run();
        tx.commit();
    }
    return find(id);
}

std::vector<Grant> Grants::revokeForSubject(const std::string& subject, const std::string& by,
                                            TimePoint now) {
    return revokeWhere(db_, "subject = ?", subject, by, now);
}

std::vector<Grant> Grants::revokeForTarget(const std::string& target, const std::string& by,
                                           TimePoint now) {
    return revokeWhere(db_, "target_pattern = ?", target, by, now);
}

}  // namespace portcullis::db
