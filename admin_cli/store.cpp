#include "admin_cli/store.hpp"

#include "admin_cli/cli_error.hpp"
#include "admin_cli/operator_name.hpp"

namespace portcullis::cli {

db::StateDir resolveStateDir(const Globals& globals) {
    return db::StateDir::resolve(globals.stateDir);
}

Store::Store(const Globals& globals, Access access)
    : dir_(resolveStateDir(globals)),
      db_(require(db::Database::open(dir_, {.readOnly = access == Access::read}))),
      audit_(db_, &dir_) {
    if (access == Access::change) change_.emplace(db_);
}

Store::Store(db::StateDir dir, db::Database db)
    : dir_(std::move(dir)), db_(std::move(db)), audit_(db_, &dir_) {}

db::MasterKey Store::masterKey() const {
    return require(db::MasterKey::load(dir_));
}

std::int64_t Store::recordAlso(const std::string& type, nlohmann::json details) {
    db::AuditEvent event;
    event.type = type;
    event.actor = operatorName();
    event.details = std::move(details);
    if (!change_) return audit_.record(event);
    return audit_.record(*change_, event);
}

std::int64_t Store::recordChange(const std::string& type, nlohmann::json details) {
    db::AuditEvent event;
    event.type = type;
    event.actor = operatorName();
    event.details = std::move(details);
    if (!change_) return audit_.record(event);
    const std::int64_t id = audit_.record(*change_, event);
    change_->commit();
    change_.reset();
    return id;
}

}  // namespace portcullis::cli
