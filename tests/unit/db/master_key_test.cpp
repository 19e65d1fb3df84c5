#include "db/master_key.hpp"

#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "db/state_dir.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {
namespace fs = std::filesystem;

SecretBytes randomKey() {
    SecretBytes key(MasterKey::kSize);
    EXPECT_EQ(RAND_bytes(key.data(), static_cast<int>(key.size())), 1);
    return key;
}

mode_t modeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

void writeFile(const fs::path& p, const std::string& bytes, mode_t mode) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

TEST(MasterKeySealTest, RoundTrip) {
    const auto key = MasterKey::fromBytes(randomKey());
    const std::string sealed = key.seal("JBSWY3DPEHPK3PXP secret", "totp:1");
    EXPECT_EQ(sealed.size(), 12 + 23 + 16u);
    EXPECT_EQ(sealed.find("JBSWY3DP"), std::string::npos);
    auto opened = key.open(sealed, "totp:1");
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_EQ(opened->view(), "JBSWY3DPEHPK3PXP secret");
}

TEST(MasterKeySealTest, EmptyPlaintextRoundTrip) {
    const auto key = MasterKey::fromBytes(randomKey());
    const std::string sealed = key.seal("", "aad");
    EXPECT_EQ(sealed.size(), 28u);
    auto opened = key.open(sealed, "aad");
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_TRUE(opened->empty());
    EXPECT_FALSE(key.open(sealed, "other"));
}

TEST(MasterKeySealTest, NonceIsFreshEachTime) {
    const auto key = MasterKey::fromBytes(randomKey());
    const auto a = key.seal("same", "totp:1");
    const auto b = key.seal("same", "totp:1");
    EXPECT_NE(a, b);
    EXPECT_NE(a.substr(0, 12), b.substr(0, 12));
}

TEST(MasterKeySealTest, WrongKeyFails) {
    const auto key = MasterKey::fromBytes(randomKey());
    const auto other = MasterKey::fromBytes(randomKey());
    const auto sealed = key.seal("secret", "totp:1");
    auto opened = other.open(sealed, "totp:1");
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().find("does not verify"), std::string::npos) << opened.error();
}

TEST(MasterKeySealTest, EditedBlobFails) {
    const auto key = MasterKey::fromBytes(randomKey());
    const auto sealed = key.seal("secret bytes", "totp:1");
    // Flip one bit in every position: nonce, ciphertext and tag.
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        std::string edited = sealed;
        edited[i] = static_cast<char>(edited[i] ^ 0x01);
        EXPECT_FALSE(key.open(edited, "totp:1")) << "byte " << i;
    }
    EXPECT_FALSE(key.open(sealed.substr(0, sealed.size() - 1), "totp:1"));
    EXPECT_FALSE(key.open(sealed + "x", "totp:1"));
    EXPECT_FALSE(key.open(sealed.substr(0, 27), "totp:1"));
    EXPECT_FALSE(key.open("", "totp:1"));
}

TEST(MasterKeySealTest, WrongAssociatedDataFails) {
    const auto key = MasterKey::fromBytes(randomKey());
    const auto sealed = key.seal("secret", "totp:1");
    EXPECT_FALSE(key.open(sealed, "totp:2"));
    EXPECT_FALSE(key.open(sealed, "totp:10"));
    EXPECT_FALSE(key.open(sealed, ""));
    EXPECT_TRUE(key.open(sealed, "totp:1"));
}

class MasterKeyStoreTest : public ::testing::Test {
  protected:
    test::TempStore store_{test::TempStore::Open::stateDirOnly};
    const StateDir& dir_ = store_.dir();
};

TEST_F(MasterKeyStoreTest, CreateOrLoadCreatesA0600KeyAndLoadsItAgain) {
    auto created = MasterKey::createOrLoad(dir_);
    ASSERT_TRUE(created) << created.error();
    EXPECT_EQ(modeOf(dir_.masterKey()), 0600u);
    EXPECT_EQ(fs::file_size(dir_.masterKey()), MasterKey::kSize);
    // No temporary file is left behind.
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir_.root())) {
        EXPECT_EQ(e.path().filename().string().rfind(".master.key", 0), std::string::npos)
            << e.path();
        ++entries;
    }
    EXPECT_GT(entries, 0);

    const auto sealed = created->seal("secret", "totp:7");
    auto loaded = MasterKey::load(dir_);
    ASSERT_TRUE(loaded) << loaded.error();
    auto opened = loaded->open(sealed, "totp:7");
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened->view(), "secret");

    // Idempotent: a second createOrLoad keeps the same key.
    auto again = MasterKey::createOrLoad(dir_);
    ASSERT_TRUE(again) << again.error();
    EXPECT_TRUE(again->open(sealed, "totp:7"));
    EXPECT_EQ(modeOf(dir_.masterKey()), 0600u);
}

TEST_F(MasterKeyStoreTest, LoadRefusesMissingKey) {
    auto loaded = MasterKey::load(dir_);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().find("portcullis init"), std::string::npos) << loaded.error();
    EXPECT_EQ(loaded.error().find('\n'), std::string::npos);
}

TEST_F(MasterKeyStoreTest, LoadRefusesGroupOrWorldAccessibleKey) {
    ASSERT_TRUE(MasterKey::createOrLoad(dir_));
    for (mode_t mode : {0644u, 0640u, 0604u, 0660u, 0610u}) {
        ASSERT_EQ(::chmod(dir_.masterKey().c_str(), mode), 0);
        auto loaded = MasterKey::load(dir_);
        ASSERT_FALSE(loaded) << std::oct << mode;
        EXPECT_NE(loaded.error().find("chmod 600 " + dir_.masterKey().string()), std::string::npos)
            << loaded.error();
        EXPECT_EQ(loaded.error().find('\n'), std::string::npos);
    }
    ASSERT_EQ(::chmod(dir_.masterKey().c_str(), 0400), 0);
    EXPECT_TRUE(MasterKey::load(dir_));
}

TEST_F(MasterKeyStoreTest, CreateOrLoadRefusesAnExistingBadKey) {
    writeFile(dir_.masterKey(), std::string(32, 'k'), 0644);
    EXPECT_FALSE(MasterKey::createOrLoad(dir_));
}

TEST_F(MasterKeyStoreTest, LoadRefusesWrongSize) {
    for (std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
        writeFile(dir_.masterKey(), std::string(size, 'k'), 0600);
        auto loaded = MasterKey::load(dir_);
        ASSERT_FALSE(loaded) << size;
        EXPECT_NE(loaded.error().find(std::to_string(size) + " bytes"), std::string::npos)
            << loaded.error();
        EXPECT_NE(loaded.error().find("32"), std::string::npos) << loaded.error();
    }
    writeFile(dir_.masterKey(), std::string(32, 'k'), 0600);
    EXPECT_TRUE(MasterKey::load(dir_));
}

TEST_F(MasterKeyStoreTest, LoadRefusesSymlinkAndDirectory) {
    const auto real = dir_.root() / "real.key";
    writeFile(real, std::string(32, 'k'), 0600);
    fs::create_symlink(real, dir_.masterKey());
    EXPECT_FALSE(MasterKey::load(dir_));
    fs::remove(dir_.masterKey());
    fs::create_directory(dir_.masterKey());
    ::chmod(dir_.masterKey().c_str(), 0700);
    EXPECT_FALSE(MasterKey::load(dir_));
}

TEST_F(MasterKeyStoreTest, LoadRefusesUnreadableKey) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
    writeFile(dir_.masterKey(), std::string(32, 'k'), 0000);
    auto loaded = MasterKey::load(dir_);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().find("permission denied"), std::string::npos) << loaded.error();
}

TEST_F(MasterKeyStoreTest, CreateFailsWithoutStateDirectory) {
    const StateDir missing(dir_.root() / "absent");
    auto created = MasterKey::createOrLoad(missing);
    ASSERT_FALSE(created);
    EXPECT_NE(created.error().find("portcullis init"), std::string::npos) << created.error();
}

}  // namespace
}  // namespace portcullis::db
