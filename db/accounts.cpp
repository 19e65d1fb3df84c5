#include "db/accounts.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/user_spec.hpp"
#include "db/error.hpp"

#include "db/unix_time.hpp"

namespace portcullis::db {
namespace {

// PBKDF2-HMAC-SHA256 rounds for recovery codes. The codes carry 60 random
// bits, so the work factor only has to make an offline search of a stolen
// store pointless, while checking all ten unused codes of an account stays
// well under 50 ms (about 10 ms of CPU on a current server core).
constexpr int kRecoveryCodeIterations = 3000;
constexpr std::size_t kRecoveryCodeLength = 12;  // characters, without dashes
constexpr std::size_t kRecoveryCodeGroup = 4;    // shown as xxxx-xxxx-xxxx
constexpr std::size_t kRecoveryCodeSaltSize = 16;
constexpr std::size_t kRecoveryCodeHashSize = 32;
// 32 symbols (5 bits each), without 0/o, 1/l that are easily misread.
constexpr std::string_view kRecoveryAlphabet = "23456789abcdefghijkmnpqrstuvwxyz";
static_assert(kRecoveryAlphabet.size() == 32);

std::string notFound(const std::string& name) {
    return "no account named " + name + " (see `portcullis user list`)";
}

std::optional<std::int64_t> accountId(Database& db, const std::string& name) {
    auto st = db.prepare("SELECT id FROM accounts WHERE name = ?");
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    return st.int64(0);
}

void randomBytes(std::uint8_t* out, std::size_t size) {
    if (RAND_bytes(out, static_cast<int>(size)) != 1) {
        throw Error("the system's random source failed");
    }
}

std::string newRecoveryCode() {
    SecretBytes raw(kRecoveryCodeLength);
    randomBytes(raw.data(), raw.size());
    std::string code;
    code.reserve(kRecoveryCodeLength + kRecoveryCodeLength / kRecoveryCodeGroup);
    for (std::size_t i = 0; i < kRecoveryCodeLength; ++i) {
        if (i > 0 && i % kRecoveryCodeGroup == 0) code += '-';
        code += kRecoveryAlphabet[raw.data()[i] & 0x1f];
    }
    return code;
}

// SELECT list shared by find() and list().
constexpr const char* kAccountColumns = R"SQL(
SELECT a.id, a.name, a.full_name, a.email, a.enabled, a.created_at, a.failures, a.locked_until,
       EXISTS (SELECT 1 FROM totp t WHERE t.account_id = a.id),
       (SELECT count(*) FROM recovery_codes r WHERE r.account_id = a.id AND r.used_at IS NULL),
       (SELECT group_concat(g.name, ',') FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.account_id = a.id)
FROM accounts a
)SQL";

Account readAccount(const Statement& st) {
    Account a;
    a.id = st.int64(0);
    a.name = st.text(1);
    a.fullName = st.text(2);
    a.email = st.text(3);
    a.enabled = st.int64(4) != 0;
    a.createdAt = fromUnix(st.int64(5));
    a.failures = static_cast<int>(st.int64(6));
    if (auto until = st.optInt64(7)) a.lockedUntil = fromUnix(*until);
    a.totpEnrolled = st.int64(8) != 0;
    a.recoveryCodesLeft = static_cast<int>(st.int64(9));
    // Group names are valid names: they never hold a comma.
    const std::string groups = st.text(10);
    std::size_t start = 0;
    while (start < groups.size()) {
        std::size_t end = groups.find(',', start);
        if (end == std::string::npos) end = groups.size();
        if (end > start) a.groups.push_back(groups.substr(start, end - start));
        start = end + 1;
    }
    std::sort(a.groups.begin(), a.groups.end());
    return a;
}

StoredKey readKey(const Statement& st) {
    StoredKey k;
    k.id = st.int64(0);
    k.type = st.text(1);
    const std::string blob = st.blob(2);
    k.fingerprint = st.text(3);
    k.comment = st.text(4);
    k.createdAt = fromUnix(st.int64(5));
    if (auto parsed = SshPublicKey::fromBlob(blob)) {
        k.key = std::move(parsed.value());
    } else {
        k.key.type = k.type;
        k.key.blob.assign(blob.begin(), blob.end());
    }
    k.key.comment = k.comment;
    return k;
}

std::string invalidName(const std::string& what, const std::string& name) {
    return "invalid " + what + " name '" + name + "': use 1-64 characters of A-Z a-z 0-9 . _ -";
}

// Full names and e-mail addresses are shown in listings and audit events:
// refuse control characters (terminal escapes) and absurd lengths.
Result<void> checkText(const char* what, const std::string& text) {
    constexpr std::size_t kMaxText = 256;
    if (text.size() > kMaxText) {
        return makeError(std::string(what) + " is too long (at most " + std::to_string(kMaxText) +
                         " bytes)");
    }
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            return makeError(std::string(what) + " must not contain control characters");
        }
    }
    return {};
}

}  // namespace

std::string hashRecoveryCode(std::string_view code, std::string_view salt) {
    std::string out(kRecoveryCodeHashSize, '\0');
    if (PKCS5_PBKDF2_HMAC(code.data(), static_cast<int>(code.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), kRecoveryCodeIterations, EVP_sha256(),
                          static_cast<int>(out.size()),
                          reinterpret_cast<unsigned char*>(out.data())) != 1) {
        throw Error("recovery code hashing failed");
    }
    return out;
}

std::string normalizeRecoveryCode(std::string_view code) {
    std::string out;
    out.reserve(code.size());
    for (unsigned char c : code) {
        if (c == '-' || std::isspace(c)) continue;
        out += static_cast<char>(std::tolower(c));
    }
    return out;
}

Result<Account> Accounts::add(const std::string& name, const std::string& fullName,
                              const std::string& email, TimePoint now) {
    if (!isValidName(name)) return makeError(invalidName("account", name));
    if (auto r = checkText("full name", fullName); !r) return makeError(r.error());
    if (auto r = checkText("e-mail address", email); !r) return makeError(r.error());
    Transaction tx(db_);
    {
        auto st = db_.prepare("SELECT name FROM accounts WHERE name = ? COLLATE NOCASE");
        st.bind(1, name);
        if (st.step()) {
            const std::string existing = st.text(0);
            if (existing == name) return makeError("account " + name + " already exists");
            return makeError("account " + name + " would be confused with the existing account " +
                             existing + " (names differ only in case)");
        }
    }
    auto insert = db_.prepare(
        "INSERT INTO accounts (name, full_name, email, enabled, created_at) VALUES (?, ?, ?, 1, "
        "?)");
    insert.bind(1, name).bind(2, fullName).bind(3, email).bind(4, toUnix(now));
    try {
        insert.run();
    } catch (const ConstraintError&) {
        return makeError("account " + name + " already exists");
    }
    Account account;
    account.id = db_.lastInsertId();
    account.name = name;
    account.fullName = fullName;
    account.email = email;
    account.createdAt = now;
    tx.commit();
    return account;
}

Result<Account> Accounts::find(const std::string& name) {
    auto st = db_.prepare(std::string(kAccountColumns) + " WHERE a.name = ?");
    st.bind(1, name);
    if (!st.step()) return makeError(notFound(name));
    return readAccount(st);
}

std::vector<Account> Accounts::list() {
    auto st = db_.prepare(std::string(kAccountColumns) + " ORDER BY a.name");
    std::vector<Account> out;
    while (st.step()) out.push_back(readAccount(st));
    return out;
}

Result<void> Accounts::setEnabled(const std::string& name, bool enabled) {
    Transaction tx(db_);
    auto st = db_.prepare("UPDATE accounts SET enabled = ? WHERE name = ?");
    st.bind(1, enabled).bind(2, name).run();
    if (db_.changes() == 0) return makeError(notFound(name));
    tx.commit();
    return {};
}

Result<void> Accounts::remove(const std::string& name) {
    Transaction tx(db_);
    // ssh_keys, totp, recovery_codes and group_members go with it (ON DELETE CASCADE).
    auto st = db_.prepare("DELETE FROM accounts WHERE name = ?");
    st.bind(1, name).run();
    if (db_.changes() == 0) return makeError(notFound(name));
    tx.commit();
    return {};
}

Result<void> Accounts::unlock(const std::string& name) {
    Transaction tx(db_);
    auto st = db_.prepare("UPDATE accounts SET failures = 0, locked_until = NULL WHERE name = ?");
    st.bind(1, name).run();
    if (db_.changes() == 0) return makeError(notFound(name));
    tx.commit();
    return {};
}

Result<StoredKey> Accounts::addKey(const std::string& name, const SshPublicKey& key,
                                   TimePoint now) {
    if (key.type.empty() || key.blob.empty()) return makeError("empty public key");
    Transaction tx(db_);
    const auto id = accountId(db_, name);
    if (!id) return makeError(notFound(name));
    const std::string fingerprint = key.fingerprint();
    const std::string_view blob(reinterpret_cast<const char*>(key.blob.data()), key.blob.size());
    {
        // In the write transaction, so that two concurrent adds cannot both pass.
        auto owner = db_.prepare(
            "SELECT a.name FROM ssh_keys k JOIN accounts a ON a.id = k.account_id "
            "WHERE k.blob = ? AND a.id != ? ORDER BY a.name LIMIT 1");
        owner.bindBlob(1, blob).bind(2, *id);
        if (owner.step()) {
            return makeError("key " + fingerprint + " is already registered to account " +
                             owner.text(0) + ": one key identifies one person; give " + name +
                             " a key of their own");
        }
    }
    auto st = db_.prepare(
        "INSERT INTO ssh_keys (account_id, type, blob, fingerprint, comment, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    st.bind(1, *id)
        .bind(2, key.type)
        .bindBlob(3, blob)
        .bind(4, fingerprint)
        .bind(5, key.comment)
        .bind(6, toUnix(now));
    try {
        st.run();
    } catch (const ConstraintError&) {
        return makeError("key " + fingerprint + " is already registered to " + name);
    }
    StoredKey stored;
    stored.id = db_.lastInsertId();
    stored.fingerprint = fingerprint;
    stored.type = key.type;
    stored.comment = key.comment;
    stored.createdAt = now;
    stored.key = key;
    tx.commit();
    return stored;
}

Result<std::vector<StoredKey>> Accounts::listKeys(const std::string& name) {
    const auto id = accountId(db_, name);
    if (!id) return makeError(notFound(name));
    auto st = db_.prepare(
        "SELECT id, type, blob, fingerprint, comment, created_at FROM ssh_keys "
        "WHERE account_id = ? ORDER BY created_at, id");
    st.bind(1, *id);
    std::vector<StoredKey> out;
    while (st.step()) out.push_back(readKey(st));
    for (auto& k : out) {
        const std::string blob(k.key.blob.begin(), k.key.blob.end());
        for (auto& owner : keyOwners(blob)) {
            if (owner != name) k.alsoRegisteredTo.push_back(std::move(owner));
        }
    }
    return out;
}

Result<void> Accounts::removeKey(const std::string& name, const std::string& fingerprint) {
    Transaction tx(db_);
    const auto id = accountId(db_, name);
    if (!id) return makeError(notFound(name));
    auto st = db_.prepare("DELETE FROM ssh_keys WHERE account_id = ? AND fingerprint = ?");
    st.bind(1, *id).bind(2, fingerprint).run();
    if (db_.changes() == 0) {
        return makeError("account " + name + " has no key " + fingerprint +
                         " (see `portcullis user key list " + name + "`)");
    }
    tx.commit();
    return {};
}

bool Accounts::hasKey(const std::string& name, const std::string& blob) {
    const auto owners = keyOwners(blob);
    return owners.size() == 1 && owners.front() == name;
}

std::vector<std::string> Accounts::keyOwners(const std::string& blob) {
    auto st = db_.prepare(
        "SELECT DISTINCT a.name FROM ssh_keys k JOIN accounts a ON a.id = k.account_id "
        "WHERE k.blob = ? ORDER BY a.name");
    st.bindBlob(1, blob);
    std::vector<std::string> owners;
    while (st.step()) owners.push_back(st.text(0));
    return owners;
}

Result<Enrollment> Accounts::enrollTotp(const std::string& name, const MasterKey& key,
                                        const std::string& issuer, TimePoint now,
                                        const TotpParams& params) {
    Transaction tx(db_);
    const auto id = accountId(db_, name);
    if (!id) return makeError(notFound(name));

    Enrollment enrollment;
    enrollment.secret = generateTotpSecret();
    const std::string sealed = key.seal(enrollment.secret.view(), "totp:" + std::to_string(*id));
    {
        // A new secret starts with no used step: last_step is reset.
        auto st = db_.prepare(
            "INSERT INTO totp (account_id, sealed, enrolled_at, last_step) VALUES (?, ?, ?, NULL) "
            "ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, "
            "enrolled_at = excluded.enrolled_at, last_step = NULL");
        st.bind(1, *id).bindBlob(2, sealed).bind(3, toUnix(now)).run();
    }
    {
        auto st = db_.prepare("DELETE FROM recovery_codes WHERE account_id = ?");
        st.bind(1, *id).run();
    }
    auto insert =
        db_.prepare("INSERT INTO recovery_codes (account_id, salt, hash) VALUES (?, ?, ?)");
    for (int i = 0; i < kRecoveryCodeCount; ++i) {
        std::string code = newRecoveryCode();
        std::string salt(kRecoveryCodeSaltSize, '\0');
        randomBytes(reinterpret_cast<std::uint8_t*>(salt.data()), salt.size());
        std::string normalized = normalizeRecoveryCode(code);
        const std::string hash = hashRecoveryCode(normalized, salt);
        OPENSSL_cleanse(normalized.data(), normalized.size());
        insert.reset();
        insert.bind(1, *id).bindBlob(2, salt).bindBlob(3, hash).run();
        enrollment.recoveryCodes.push_back(std::move(code));
    }
    enrollment.uri =
        otpauthUri(issuer.empty() ? std::string_view("Portcullis") : std::string_view(issuer), name,
                   enrollment.secret, params);
    tx.commit();
    return enrollment;
}

Result<void> Accounts::resetTotp(const std::string& name) {
    Transaction tx(db_);
    const auto id = accountId(db_, name);
    if (!id) return makeError(notFound(name));
    auto totp = db_.prepare("DELETE FROM totp WHERE account_id = ?");
    totp.bind(1, *id).run();
    auto codes = db_.prepare("DELETE FROM recovery_codes WHERE account_id = ?");
    codes.bind(1, *id).run();
    tx.commit();
    return {};
}

std::int64_t Accounts::sealedSecretCount() {
    auto st = db_.prepare("SELECT count(*) FROM totp");
    st.step();
    return st.int64(0);
}

}  // namespace portcullis::db
