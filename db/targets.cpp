#include "db/targets.hpp"

#include <cctype>

#include "common/user_spec.hpp"
#include "db/grants.hpp"

namespace portcullis::db {
namespace {

constexpr const char* kColumns =
    "SELECT id, name, host, port, default_login, host_key, created_at FROM targets";

Result<void> validate(const Target& t) {
    if (!isValidName(t.name)) {
        return makeError("invalid target name '" + t.name +
                         "': use 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (t.host.empty()) return makeError("target " + t.name + ": --host is required");
    for (const unsigned char c : t.host) {
        if (std::isspace(c) || std::iscntrl(c)) {
            return makeError("target " + t.name + ": invalid host '" + t.host +
                             "' (a host name or address, without spaces)");
        }
    }
    if (t.port < 1 || t.port > 65535) {
        return makeError("target " + t.name + ": port " + std::to_string(t.port) +
                         " is out of range (1-65535)");
    }
    if (!isValidLoginName(t.defaultLogin)) {
        return makeError("target " + t.name + ": invalid default login '" + t.defaultLogin +
                         "' (pass --login USER)");
    }
    if (t.hostKey.type.empty() || t.hostKey.blob.empty()) {
        return makeError("target " + t.name +
                         ": a pinned host key is required (--host-key 'TYPE BASE64' or --scan)");
    }
    // The key is stored as its "TYPE BASE64" line; it must read back as one.
    if (auto parsed = SshPublicKey::parseLine(t.hostKey.toLine()); !parsed) {
        return makeError("target " + t.name + ": invalid host key: " + parsed.error());
    }
    return {};
}

Result<Target> readTarget(const Statement& st) {
    Target t;
    t.id = st.int64(0);
    t.name = st.text(1);
    t.host = st.text(2);
    t.port = static_cast<int>(st.int64(3));
    t.defaultLogin = st.text(4);
    auto key = SshPublicKey::parseLine(st.text(5));
    if (!key) {
        return makeError("target " + t.name + ": the stored host key cannot be read (" +
                         key.error() + "); remove the target and add it again");
    }
    t.hostKey = std::move(key.value());
    t.createdAt = TimePoint{Seconds{st.int64(6)}};
    return t;
}

bool exists(Database& db, const std::string& name) {
    auto st = db.prepare("SELECT 1 FROM targets WHERE name = ?");
    st.bind(1, name);
    return st.step();
}

}  // namespace

Result<Target> Targets::add(const Target& target, TimePoint now) {
    if (auto r = validate(target); !r) return makeError(r.error());
    {
        Transaction tx(db_);
        if (exists(db_, target.name)) {
            return makeError("target " + target.name +
                             " already exists (see `portcullis target show " + target.name +
                             "`; remove it first to change it)");
        }
        try {
            db_.prepare(
                   "INSERT INTO targets (name, host, port, default_login, host_key, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)")
                .bind(1, target.name)
                .bind(2, target.host)
                .bind(3, target.port)
                .bind(4, target.defaultLogin)
                .bind(5, target.hostKey.toLine())
                .bind(6, static_cast<std::int64_t>(now.time_since_epoch().count()))
                .run();
        } catch (const ConstraintError&) {
            return makeError("target " + target.name + " already exists");
        }
        tx.commit();
    }
    return find(target.name);
}

Result<Target> Targets::find(const std::string& name) {
    auto st = db_.prepare(std::string(kColumns) + " WHERE name = ?");
    st.bind(1, name);
    if (!st.step()) {
        return makeError("unknown target " + name + " (see `portcullis target list`)");
    }
    return readTarget(st);
}

std::vector<Target> Targets::list() {
    auto st = db_.prepare(std::string(kColumns) + " ORDER BY name");
    std::vector<Target> out;
    while (st.step()) {
        // A row whose key cannot be read is skipped here; find() names the problem.
        if (auto t = readTarget(st)) out.push_back(std::move(t.value()));
    }
    return out;
}

Result<void> Targets::remove(const std::string& name) {
    Transaction tx(db_);
    db_.prepare("DELETE FROM targets WHERE name = ?").bind(1, name).run();
    if (db_.changes() == 0) {
        return makeError("unknown target " + name + " (see `portcullis target list`)");
    }
    tx.commit();
    return {};
}

}  // namespace portcullis::db
