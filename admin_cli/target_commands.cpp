// portcullis target ...: the hosts behind the gateway and their pinned host keys.
#include <iostream>

#include "admin_cli/arguments.hpp"
#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/grant_cleanup.hpp"
#include "admin_cli/grant_view.hpp"
#include "admin_cli/host_key_scan.hpp"
#include "admin_cli/live_recheck.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "admin_cli/terminal_prompt.hpp"
#include "db/grants.hpp"
#include "db/targets.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

constexpr const char* kDefaultLogin = "root";

json targetJson(const db::Target& t) {
    return {{"name", t.name},
            {"host", t.host},
            {"port", t.port},
            {"default_login", t.defaultLogin},
            {"host_key", t.hostKey.toLine()},
            {"host_key_type", t.hostKey.type},
            {"host_key_fingerprint", t.hostKey.fingerprint()},
            {"created_at", isoTime(t.createdAt)}};
}

void addOptions(cxxopts::Options& o) {
    // clang-format off
    o.add_options()
        ("host", "address or DNS name of the target (required)", cxxopts::value<std::string>(), "H")
        ("port", "SSH port of the target", cxxopts::value<std::string>()->default_value("22"), "N")
        ("login", "default login on the target when the user names none",
         cxxopts::value<std::string>()->default_value(kDefaultLogin), "USER")
        ("host-key", "pin this host key: 'TYPE BASE64' (e.g. from the target's "
                     "/etc/ssh/ssh_host_ed25519_key.pub)", cxxopts::value<std::string>(), "KEY")
        ("scan", "fetch the host key from the target and ask to pin it")
        ("yes", "with --scan: pin without asking (check the fingerprint out of band)");
    // clang-format on
}

std::string requireHost(const std::optional<std::string>& host) {
    if (!host) throw UsageError("--host is required");
    const bool bad = host->empty() || host->size() > 253 || host->front() == '-' ||
                     host->find_first_of(" \t\r\n@/") != std::string::npos;
    if (bad) throw UsageError("--host: `" + *host + "` is not a host name or address");
    return *host;
}

// The key to pin: from --host-key, or scanned and confirmed by the operator.
SshPublicKey hostKeyToPin(const Invocation& inv, const std::string& name, const std::string& host,
                          int port) {
    if (const auto line = inv.option("host-key")) {
        auto key = SshPublicKey::parseLine(*line);
        // A malformed flag value, as for every other flag: a usage error.
        if (!key) {
            throw UsageError("--host-key: not a valid SSH public key ('TYPE BASE64'): " +
                             key.error());
        }
        return std::move(key).value();
    }
    SshPublicKey key = require(scanHostKey(host, port));
    std::ostream& out = inv.json() ? std::cerr : std::cout;  // --json keeps stdout for JSON
    out << "Host key of " << host << " port " << port << ":\n"
        << "  " << key.toLine() << "\n"
        << "  " << key.fingerprint() << "\n";
    out.flush();
    if (inv.flag("yes")) return key;
    const auto answer = askYesNo("Pin this host key for target " + name + "?");
    if (!answer) {
        throw Failure(
            "no terminal to confirm the host key; compare the fingerprint with the "
            "target's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then "
            "rerun with --yes, or pin it with --host-key 'TYPE BASE64'");
    }
    if (!*answer) throw Failure("host key not pinned; target " + name + " was not added");
    return key;
}

int targetAdd(Invocation& inv) {
    const std::string& name = requireName(inv.arg(0), "target name");
    const std::string& host = requireHost(inv.option("host"));
    const int port = requirePort(inv.optionOr("port"));
    const std::string& login = requireName(inv.optionOr("login"), "login");
    const bool scan = inv.flag("scan");
    if (scan == inv.option("host-key").has_value()) {
        throw UsageError(
            "give the host key with exactly one of --host-key 'TYPE BASE64' or --scan");
    }
    if (inv.flag("yes") && !scan) throw UsageError("--yes goes with --scan only");

    Store store(inv.globals(), Store::Access::change);
    db::Targets targets(store.db());
    if (targets.find(name)) {
        throw Failure("a target named " + name + " already exists (see `portcullis target show " +
                      name + "`; remove it first to change it)");
    }
    db::Target target;
    target.name = name;
    target.host = host;
    target.port = port;
    target.defaultLogin = login;
    target.hostKey = hostKeyToPin(inv, name, host, port);
    const db::Target added = require(targets.add(target, systemNow()));
    store.recordChange("admin.target.add", {{"target", name},
                                            {"host", host},
                                            {"port", port},
                                            {"default_login", login},
                                            {"host_key_type", added.hostKey.type},
                                            {"host_key_fingerprint", added.hostKey.fingerprint()},
                                            {"pinned_by", scan ? "scan" : "flag"}});
    if (inv.json()) {
        printJson(targetJson(added));
    } else {
        std::cout << "added target " << name << " (" << login << "@" << host << " port " << port
                  << "), host key " << added.hostKey.fingerprint() << " pinned\n"
                  << "next: grant access with `portcullis grant ACCOUNT " << name << "`\n";
    }
    return kExitOk;
}

int targetList(Invocation& inv) {
    Store store(inv.globals());
    const auto targets = db::Targets(store.db()).list();
    if (inv.json()) {
        json out = json::array();
        for (const auto& t : targets) out.push_back(targetJson(t));
        printJson(out);
        return kExitOk;
    }
    Table table({"NAME", "HOST", "PORT", "LOGIN", "HOST KEY", "ADDED"});
    for (const auto& t : targets) {
        table.addRow({t.name, t.host, std::to_string(t.port), t.defaultLogin,
                      t.hostKey.type + " " + t.hostKey.fingerprint(), isoTime(t.createdAt)});
    }
    table.print(std::cout,
                "no targets yet (add one with `portcullis target add NAME --host H "
                "--host-key 'TYPE BASE64'`)");
    return kExitOk;
}

int targetShow(Invocation& inv) {
    const std::string& name = requireName(inv.arg(0), "target name");
    Store store(inv.globals());
    const db::Target t = require(db::Targets(store.db()).find(name));
    db::GrantFilter filter;
    filter.target = name;
    const auto grants = db::Grants(store.db()).list(filter);
    const TimePoint now = systemNow();
    if (inv.json()) {
        json out = targetJson(t);
        out["grants"] = json::array();
        for (const auto& g : grants) out["grants"].push_back(grantJson(g, now));
        printJson(out);
        return kExitOk;
    }
    printFields(std::cout, {{"Target", t.name},
                            {"Host", t.host},
                            {"Port", std::to_string(t.port)},
                            {"Default login", t.defaultLogin},
                            {"Host key", t.hostKey.toLine()},
                            {"Fingerprint", t.hostKey.fingerprint()},
                            {"Added", isoTime(t.createdAt)}});
    std::cout << "\nGrants that reach it:\n";
    Table table = grantTable();
    for (const auto& g : grants) addGrantRow(table, g, now);
    table.print(std::cout, "(none)");
    return kExitOk;
}

int targetRemove(Invocation& inv) {
    const std::string& name = requireName(inv.arg(0), "target name");
    Store store(inv.globals(), Store::Access::change);
    require(db::Targets(store.db()).remove(name));
    const json revoked = revokeGrantsOfTarget(store, name, "target " + name + " removed");
    store.recordChange("admin.target.remove", {{"target", name}, {"revoked_grants", revoked}});
    json out = {{"name", name}, {"removed", true}, {"revoked_grants", revoked}};
    if (!inv.json()) {
        std::cout << "removed target " << name;
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

}  // namespace

std::vector<CommandSpec> targetCommands() {
    return {
        {.path = "target add",
         .usage =
             "NAME --host H [--port 22] [--login USER] (--host-key 'TYPE BASE64' | --scan [--yes])",
         .summary = "add a target and pin its host key (default login: root)",
         .run = targetAdd,
         .options = addOptions,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "target list", .usage = "", .summary = "list targets", .run = targetList},
        {.path = "target show",
         .usage = "NAME",
         .summary = "a target, its pinned host key and the grants that reach it",
         .run = targetShow,
         .minArgs = 1,
         .maxArgs = 1},
        {.path = "target remove",
         .usage = "NAME",
         .summary = "remove a target; revokes the grants that name exactly it",
         .run = targetRemove,
         .minArgs = 1,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
