#pragma once
// Test support for the db unit tests: a fresh state directory under $TMPDIR with
// an open, newly created store, removed with everything in it at destruction.
#include <openssl/rand.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {

class TempStore {
  public:
    enum class Open { database, stateDirOnly };

    // Creates <tempdir>/state and, unless told otherwise, the store in it.
    // Throws std::runtime_error if anything fails, so that the fixture fails loudly.
    explicit TempStore(Open open = Open::database) : dir_(tmp_.path() / "state") {
        if (auto created = dir_.create(); !created) {
            throw std::runtime_error("cannot create state directory " + dir_.root().string() +
                                     ": " + created.error());
        }
        if (open == Open::database) {
            auto opened = db::Database::open(dir_, {.create = true});
            if (!opened) throw std::runtime_error("cannot create store: " + opened.error());
            db_.emplace(std::move(opened.value()));
        }
    }
    TempStore(const TempStore&) = delete;
    TempStore& operator=(const TempStore&) = delete;

    const db::StateDir& dir() const { return dir_; }
    db::Database& db() {
        if (!db_) throw std::logic_error("TempStore was made without a database");
        return *db_;
    }

  private:
    // Declaration order: the database closes before the directory goes.
    TempDir tmp_;
    db::StateDir dir_;
    std::optional<db::Database> db_;
};

inline db::MasterKey randomMasterKey() {
    SecretBytes key(db::MasterKey::kSize);
    RAND_bytes(key.data(), static_cast<int>(key.size()));
    return db::MasterKey::fromBytes(std::move(key));
}

}  // namespace portcullis::test
