// portcullis group ...: groups of accounts, used as grant subjects (@group).
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/grant_cleanup.hpp"
#include "admin_cli/live_recheck.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "db/groups.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

void report(const Invocation& inv, const json& object, const std::string& text) {
    if (inv.json()) {
        printJson(object);
    } else {
        std::cout << text << '\n';
    }
}

int groupAdd(Invocation& inv) {
    const std::string name = requireGroupName(inv.arg(0));
    Store store(inv.globals(), Store::Access::change);
    require(db::Groups(store.db()).add(name, systemNow()));
    // Grants of a group removed before removal revoked them: not inherited.
    const json leftovers =
        revokeGrantsOfSubject(store, "@" + name, "left over from an earlier group " + name);
    store.recordChange("admin.group.add", {{"group", name}, {"revoked_grants", leftovers}});
    report(inv, {{"name", name}, {"members", json::array()}},
           "added group " + name + " (grant to it as @" + name + ")");
    return kExitOk;
}

int groupRemove(Invocation& inv) {
    const std::string name = requireGroupName(inv.arg(0));
    Store store(inv.globals(), Store::Access::change);
    require(db::Groups(store.db()).remove(name));
    const json revoked = revokeGrantsOfSubject(store, "@" + name, "group " + name + " removed");
    store.recordChange("admin.group.remove", {{"group", name}, {"revoked_grants", revoked}});
    json out = {{"name", name}, {"removed", true}, {"revoked_grants", revoked}};
    if (!inv.json()) {
        std::cout << "removed group " << name;
        if (!revoked.empty()) std::cout << " and revoked its grant(s) " << grantIdList(revoked);
        std::cout << '\n';
    }
    if (!revoked.empty()) {
        const RecheckOutcome outcome = requestRecheck(store.dir(), std::nullopt);
        if (!inv.json()) std::cout << outcome.note << '\n';
        out["live_connections_rechecked"] = recheckJson(outcome);
    }
    if (inv.json()) printJson(out);
    return kExitOk;
}

int groupAddMember(Invocation& inv) {
    const std::string group = requireGroupName(inv.arg(0));
    const std::string& account = requireName(inv.arg(1), "account name");
    Store store(inv.globals(), Store::Access::change);
    require(db::Groups(store.db()).addMember(group, account));
    store.recordChange("admin.group.member.add", {{"group", group}, {"account", account}});
    report(inv, {{"group", group}, {"account", account}, {"member", true}},
           "added " + account + " to group " + group);
    return kExitOk;
}

int groupRemoveMember(Invocation& inv) {
    const std::string group = requireGroupName(inv.arg(0));
    const std::string& account = requireName(inv.arg(1), "account name");
    Store store(inv.globals(), Store::Access::change);
    require(db::Groups(store.db()).removeMember(group, account));
    store.recordChange("admin.group.member.remove", {{"group", group}, {"account", account}});
    report(inv, {{"group", group}, {"account", account}, {"member", false}},
           "removed " + account + " from group " + group);
    return kExitOk;
}

int groupList(Invocation& inv) {
    Store store(inv.globals());
    const auto groups = db::Groups(store.db()).list();
    if (inv.json()) {
        json out = json::array();
        for (const auto& g : groups) out.push_back({{"name", g.name}, {"members", g.members}});
        printJson(out);
        return kExitOk;
    }
    Table table({"GROUP", "MEMBERS"});
    for (const auto& g : groups) table.addRow({g.name, orDash(joinList(g.members, ", "))});
    table.print(std::cout, "no groups yet (add one with `portcullis group add NAME`)");
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> groupCommands() {
    return {
        {.path = "group add",
         .usage = "NAME",
         .summary = "add a group (a grant subject as @NAME)",
         .run = groupAdd,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "group remove",
         .usage = "NAME",
         .summary = "remove a group; revokes the grants to @NAME",
         .run = groupRemove,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "group add-member",
         .usage = "GROUP USER",
         .summary = "put an account in a group",
         .run = groupAddMember,
         .minArgs = 2,
         .maxArgs = 2},
        {.path = "group remove-member",
         .usage = "GROUP USER",
         .summary = "take an account out of a group",
         .run = groupRemoveMember,
         .minArgs = 2,
         .maxArgs = 2},
        {.path = "group list",
         .usage = "",
         .summary = "groups and their members",
         .run = groupList},
    };
}

}  // namespace portcullis::cli
