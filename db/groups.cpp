#include "db/groups.hpp"

#include <map>
#include <optional>

#include "common/user_spec.hpp"
#include "db/error.hpp"

#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

std::string noGroup(const std::string& name) {
    return "no group named " + name + " (see `portcullis group list`)";
}
std::string noAccount(const std::string& name) {
    return "no account named " + name + " (see `portcullis user list`)";
}

std::optional<std::int64_t> idOf(Database& db, const char* sql, const std::string& name) {
    auto st = db.prepare(sql);
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    return st.int64(0);
}
std::optional<std::int64_t> groupId(Database& db, const std::string& name) {
    return idOf(db, "SELECT id FROM groups WHERE name = ?", name);
}
std::optional<std::int64_t> accountId(Database& db, const std::string& name) {
    return idOf(db, "SELECT id FROM accounts WHERE name = ?", name);
}

}  // namespace

Result<Group> Groups::add(const std::string& name, TimePoint now) {
    if (!isValidName(name)) {
        return makeError("invalid group name '" + name +
                         "': use 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    Transaction tx(db_);
    {
        auto st = db_.prepare("SELECT name FROM groups WHERE name = ? COLLATE NOCASE");
        st.bind(1, name);
        if (st.step()) {
            const std::string existing = st.text(0);
            if (existing == name) return makeError("group " + name + " already exists");
            return makeError("group " + name + " would be confused with the existing group " +
                             existing + " (names differ only in case)");
        }
    }
    auto st = db_.prepare("INSERT INTO groups (name, created_at) VALUES (?, ?)");
    st.bind(1, name).bind(2, toUnix(now));
    try {
        st.run();
    } catch (const ConstraintError&) {
        return makeError("group " + name + " already exists");
    }
    Group group;
    group.id = db_.lastInsertId();
    group.name = name;
    tx.commit();
    return group;
}

Result<void> Groups::remove(const std::string& name) {
    Transaction tx(db_);
    // Memberships go with it (ON DELETE CASCADE).
    auto st = db_.prepare("DELETE FROM groups WHERE name = ?");
    st.bind(1, name).run();
    if (db_.changes() == 0) return makeError(noGroup(name));
    tx.commit();
    return {};
}

Result<void> Groups::addMember(const std::string& group, const std::string& account) {
    Transaction tx(db_);
    const auto gid = groupId(db_, group);
    if (!gid) return makeError(noGroup(group));
    const auto aid = accountId(db_, account);
    if (!aid) return makeError(noAccount(account));
    auto st = db_.prepare(
        "INSERT INTO group_members (group_id, account_id) VALUES (?, ?) "
        "ON CONFLICT (group_id, account_id) DO NOTHING");
    st.bind(1, *gid).bind(2, *aid).run();
    if (db_.changes() == 0) return makeError(account + " is already a member of group " + group);
    tx.commit();
    return {};
}

Result<void> Groups::removeMember(const std::string& group, const std::string& account) {
    Transaction tx(db_);
    const auto gid = groupId(db_, group);
    if (!gid) return makeError(noGroup(group));
    const auto aid = accountId(db_, account);
    if (!aid) return makeError(noAccount(account));
    auto st = db_.prepare("DELETE FROM group_members WHERE group_id = ? AND account_id = ?");
    st.bind(1, *gid).bind(2, *aid).run();
    if (db_.changes() == 0) return makeError(account + " is not a member of group " + group);
    tx.commit();
    return {};
}

std::vector<Group> Groups::list() {
    // One statement, so that the groups and their members are one snapshot.
    auto st = db_.prepare(
        "SELECT g.id, g.name, a.name FROM groups g "
        "LEFT JOIN group_members m ON m.group_id = g.id "
        "LEFT JOIN accounts a ON a.id = m.account_id "
        "ORDER BY g.name, a.name");
    std::vector<Group> out;
    while (st.step()) {
        const std::int64_t id = st.int64(0);
        if (out.empty() || out.back().id != id) {
            Group group;
            group.id = id;
            group.name = st.text(1);
            out.push_back(std::move(group));
        }
        if (auto member = st.optText(2)) out.back().members.push_back(std::move(*member));
    }
    return out;
}

std::vector<std::string> Groups::groupsOf(const std::string& account) {
    auto st = db_.prepare(
        "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id "
        "JOIN accounts a ON a.id = m.account_id WHERE a.name = ? ORDER BY g.name");
    st.bind(1, account);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

bool Groups::isMember(const std::string& group, const std::string& account) {
    auto st = db_.prepare(
        "SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id "
        "JOIN accounts a ON a.id = m.account_id WHERE g.name = ? AND a.name = ?");
    st.bind(1, group).bind(2, account);
    return st.step();
}

}  // namespace portcullis::db
