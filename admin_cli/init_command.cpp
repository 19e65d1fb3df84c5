// portcullis init: the state directory, database, master key, and the
// gateway's host and upstream SSH keys. Idempotent: what exists is kept.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "common/ssh_handles.hpp"
#include "common/ssh_public_key.hpp"
#include "db/accounts.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"

namespace portcullis::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr mode_t kPrivateKeyMode = 0600;
constexpr mode_t kPublicKeyMode = 0644;

bool present(const fs::path& p) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(p, ec));
}

std::string relativeName(const db::StateDir& dir, const fs::path& p) {
    return p.lexically_relative(dir.root()).string();
}

// Writes a file that must not exist yet (never follows a link, never
// overwrites), then gives it the state directory's owner and `mode`.
void writeNewFile(const db::StateDir& dir, const fs::path& file, std::string_view content,
                  mode_t mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw Failure("cannot create " + file.string() + ": " + std::strerror(errno));
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(file.c_str());
            throw Failure("cannot write " + file.string() + ": " + why);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(file.c_str());
        throw Failure("cannot write " + file.string() + ": " + std::strerror(errno));
    }
    require(dir.adopt(file, mode));
}

KeyPtr generateEd25519() {
    ssh_key raw = nullptr;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
        throw Failure("cannot generate an ed25519 key (libssh)");
    }
    return KeyPtr(raw);
}

KeyPtr loadPrivateKey(const fs::path& file, const db::StateDir& dir) {
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
        throw Failure(relativeName(dir, file) + " in " + dir.root().string() +
                      " is not a readable SSH private key; move it away and run `portcullis init` "
                      "again to create a new one");
    }
    return KeyPtr(raw);
}

// "ssh-ed25519 BASE64 COMMENT"
std::string publicKeyLine(ssh_key key, const std::string& comment) {
    char* raw = nullptr;
    if (ssh_pki_export_pubkey_base64(key, &raw) != SSH_OK) {
        throw Failure("cannot export a public key (libssh)");
    }
    CStringPtr base64(raw);
    return std::string(ssh_key_type_to_char(ssh_key_type(key))) + " " + base64.get() + " " +
           comment;
}

void writePrivateKey(const db::StateDir& dir, const fs::path& file, ssh_key key) {
    char* raw = nullptr;
    if (ssh_pki_export_privkey_base64(key, nullptr, nullptr, nullptr, &raw) != SSH_OK) {
        throw Failure("cannot export a private key (libssh)");
    }
    CStringPtr pem(raw);
    const std::size_t size = std::strlen(pem.get());
    std::string_view text(pem.get(), size);
    try {
        writeNewFile(dir, file, text, kPrivateKeyMode);
    } catch (...) {
        OPENSSL_cleanse(pem.get(), size);
        throw;
    }
    OPENSSL_cleanse(pem.get(), size);
}

// Makes sure `file` (private, OpenSSH format) and `file.pub` exist; records
// what it created in `created`. Returns the public key line.
std::string ensureKeyPair(const db::StateDir& dir, const fs::path& file, const std::string& comment,
                          std::vector<std::string>& created) {
    KeyPtr key;
    if (present(file)) {
        key = loadPrivateKey(file, dir);
    } else {
        key = generateEd25519();
        writePrivateKey(dir, file, key.get());
        created.push_back(relativeName(dir, file));
    }
    const std::string line = publicKeyLine(key.get(), comment);
    fs::path pub = file;
    pub += ".pub";
    if (!present(pub)) {
        writeNewFile(dir, pub, line + "\n", kPublicKeyMode);
        created.push_back(relativeName(dir, pub));
    }
    return line;
}

// Recording sidecars that hold input sealed with master.key (typed at
// password prompts): recordings/NAME.secrets.
std::size_t sealedRecordingFiles(const db::StateDir& dir) {
    std::size_t count = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir.recordings(), ec)) {
        if (entry.path().extension() == ".secrets") ++count;
    }
    return count;
}

// A store whose master.key went missing still holds what only that key opens:
// a new key would strand all of it (issue 12, finding 10). Restoring is the way.
void refuseToStrandSecrets(const db::StateDir& dir, Store& store) {
    const auto secrets = db::Accounts(store.db()).sealedSecretCount();
    const auto sidecars = sealedRecordingFiles(dir);
    if (secrets == 0 && sidecars == 0) return;
    std::string what = std::to_string(secrets) + " sealed TOTP secret(s)";
    if (sidecars > 0) what += " and " + std::to_string(sidecars) + " sealed recording file(s)";
    throw Failure("master.key is missing from " + dir.root().string() + " but the store holds " +
                  what +
                  ": restore master.key from your backup (a new key would open none of them); "
                  "init made no change");
}

int init(Invocation& inv) {
    const db::StateDir dir = resolveStateDir(inv.globals());
    std::vector<std::string> created;
    if (!present(dir.root())) created.push_back(".");
    require(dir.create());

    const bool hadDatabase = present(dir.database());
    db::Database database = require(db::Database::open(dir, {.create = true}));
    if (!hadDatabase) created.push_back(relativeName(dir, dir.database()));
    Store store(dir, std::move(database));

    const bool hadMasterKey = present(dir.masterKey());
    if (!hadMasterKey && hadDatabase) refuseToStrandSecrets(dir, store);
    require(db::MasterKey::createOrLoad(dir));
    if (!hadMasterKey) created.push_back(relativeName(dir, dir.masterKey()));

    const std::string hostLine = ensureKeyPair(dir, dir.hostKey(), "portcullis-host", created);
    const std::string upstreamLine =
        ensureKeyPair(dir, dir.upstreamKey(), "portcullis-upstream", created);
    require(dir.checkPermissions());

    const std::string hostFingerprint = require(SshPublicKey::parseLine(hostLine)).fingerprint();
    const std::string upstreamFingerprint =
        require(SshPublicKey::parseLine(upstreamLine)).fingerprint();
    if (!created.empty()) {
        store.recordChange("admin.init", {{"state_dir", dir.root().string()},
                                          {"created", created},
                                          {"host_key_fingerprint", hostFingerprint},
                                          {"upstream_key_fingerprint", upstreamFingerprint}});
    }

    if (inv.json()) {
        printJson({{"state_dir", dir.root().string()},
                   {"upstream_public_key", upstreamLine},
                   {"upstream_key_fingerprint", upstreamFingerprint},
                   {"host_key_fingerprint", hostFingerprint},
                   {"created", created}});
        return kExitOk;
    }
    std::cout << "Portcullis state directory: " << dir.root().string() << '\n';
    if (created.empty()) {
        std::cout << "Already initialized; nothing was changed.\n";
    } else {
        std::cout << "Created: " << joinList(created, ", ") << '\n';
    }
    std::cout << "Gateway host key:  " << hostFingerprint << '\n'
              << "\nUpstream public key (the gateway's identity towards targets); add this line\n"
                 "to ~LOGIN/.ssh/authorized_keys of every login on every target:\n\n"
              << upstreamLine << "\n\n"
              << "next: portcullis user add NAME, portcullis target add NAME --host H --scan\n";
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> initCommands() {
    return {
        {.path = "init",
         .usage = "",
         .summary = "create the state directory, database, master key, host and upstream keys "
                    "(idempotent)",
         .run = init},
    };
}

}  // namespace portcullis::cli
