#include "db/database.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "db/schema.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {
namespace fs = std::filesystem;

class DatabaseTest : public ::testing::Test {
  protected:
    Database openNew() {
        auto db = Database::open(dir_, {.create = true});
        EXPECT_TRUE(db) << db.error();
        return std::move(db.value());
    }
    std::int64_t count(Database& db) {
        auto st = db.prepare("SELECT count(*) FROM groups");
        st.step();
        return st.int64(0);
    }
    void addGroup(Database& db, const char* name) {
        db.prepare("INSERT INTO groups(name, created_at) VALUES (?, 0)").bind(1, name).run();
    }

    test::TempStore store_{test::TempStore::Open::stateDirOnly};
    const StateDir& dir_ = store_.dir();
};

TEST_F(DatabaseTest, NewStoreIsWalAtCurrentVersionWithoutWorldAccess) {
    auto db = openNew();
    auto mode = db.prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.text(0), "wal");
    EXPECT_EQ(db.schemaVersion(), currentSchemaVersion());
    struct stat st {};
    ASSERT_EQ(::stat(dir_.database().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DatabaseTest, NewStoreJournalsHaveNoGroupOrWorldAccessWhileOpen) {
    // SQLite gives -wal and -shm the database file's mode: the file must be 0600
    // before SQLite first writes, whatever the umask.
    const mode_t saved = ::umask(022);
    auto db = openNew();
    ::umask(saved);
    addGroup(db, "wal-writer");  // the -wal holds this until a checkpoint
    for (const char* suffix : {"-wal", "-shm"}) {
        const std::string file = dir_.database().string() + suffix;
        struct stat st {};
        ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
    }
}

TEST_F(DatabaseTest, OpeningWithoutCreateRefusesAMissingStore) {
    auto db = Database::open(dir_);
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().find("portcullis init"), std::string::npos) << db.error();
}

TEST_F(DatabaseTest, ForeignSqliteFileIsRefused) {
    {
        auto db = Database::openFile(dir_.database(), {.create = true});
        ASSERT_TRUE(db);
    }
    // Overwrite with someone else's SQLite database.
    fs::remove(dir_.database());
    test::runProcess(
        {"sqlite3", dir_.database().string(), "CREATE TABLE t(x); INSERT INTO t VALUES(1);"});
    ASSERT_EQ(::chmod(dir_.database().c_str(), 0600), 0);
    auto db = Database::open(dir_);
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().find("not a Portcullis database"), std::string::npos) << db.error();
}

TEST_F(DatabaseTest, DamagedFileIsRefused) {
    test::writeFile(dir_.database(), std::string(4096, 'x'));
    auto db = Database::open(dir_);
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().find("cannot use database"), std::string::npos) << db.error();
}

TEST_F(DatabaseTest, NewerSchemaIsRefusedClearly) {
    {
        auto db = openNew();
        db.exec("PRAGMA user_version = " + std::to_string(currentSchemaVersion() + 1));
    }
    auto db = Database::open(dir_);
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().find("newer than this program knows"), std::string::npos) << db.error();
}

TEST_F(DatabaseTest, WorldReadableDatabaseIsRefused) {
    { auto db = openNew(); }
    ASSERT_EQ(::chmod(dir_.database().c_str(), 0644), 0);
    auto db = Database::open(dir_);
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().find("readable by everyone"), std::string::npos) << db.error();
}

TEST_F(DatabaseTest, TransactionRollsBackUnlessCommitted) {
    auto db = openNew();
    {
        Transaction tx(db);
        addGroup(db, "ops");
    }
    EXPECT_EQ(count(db), 0);
    bool hookRan = false;
    {
        Transaction tx(db);
        addGroup(db, "ops");
        tx.onCommit([&] { hookRan = true; });
        EXPECT_FALSE(hookRan);
        tx.commit();
    }
    EXPECT_TRUE(hookRan);
    EXPECT_EQ(count(db), 1);
}

TEST_F(DatabaseTest, NestedTransactionCommitsOnlyWithTheOuterOne) {
    auto db = openNew();
    bool innerHook = false;
    {
        Transaction outer(db);
        {
            Transaction inner(db);
            addGroup(db, "ops");
            inner.onCommit([&] { innerHook = true; });
            inner.commit();
        }
        EXPECT_FALSE(innerHook) << "hooks wait for the outermost commit";
        // The outer transaction is dropped: the inner change goes with it.
    }
    EXPECT_FALSE(innerHook);
    EXPECT_EQ(count(db), 0);

    {
        Transaction outer(db);
        {
            Transaction inner(db);
            addGroup(db, "ops");
            inner.onCommit([&] { innerHook = true; });
            inner.commit();
        }
        outer.commit();
    }
    EXPECT_TRUE(innerHook);
    EXPECT_EQ(count(db), 1);
}

TEST_F(DatabaseTest, NestedRollbackKeepsTheOuterChanges) {
    auto db = openNew();
    {
        Transaction outer(db);
        addGroup(db, "kept");
        {
            Transaction inner(db);
            addGroup(db, "dropped");
        }
        outer.commit();
    }
    EXPECT_EQ(count(db), 1);
}

TEST_F(DatabaseTest, ConstraintViolationThrowsConstraintError) {
    auto db = openNew();
    addGroup(db, "ops");
    EXPECT_THROW(addGroup(db, "ops"), ConstraintError);
}

// A writer that waited out its busy timeout gets BusyError (the gateway retries
// those), and its transaction left nothing behind.
TEST_F(DatabaseTest, WriteWhileAnotherWriterHoldsTheLockThrowsBusyError) {
    auto holder = openNew();
    auto waiter = Database::open(dir_, {.busyTimeout = std::chrono::milliseconds(50)});
    ASSERT_TRUE(waiter) << waiter.error();
    holder.exec("BEGIN EXCLUSIVE");
    EXPECT_THROW(
        {
            Transaction tx(*waiter);
            addGroup(*waiter, "ops");
            tx.commit();
        },
        BusyError);
    holder.exec("COMMIT");
    {
        Transaction tx(*waiter);
        addGroup(*waiter, "ops");
        tx.commit();
    }
    EXPECT_EQ(count(holder), 1);
}

}  // namespace
}  // namespace portcullis::db
