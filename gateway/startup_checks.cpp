#include "gateway/startup_checks.hpp"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace portcullis::gateway {
namespace fs = std::filesystem;
namespace {

StartupFinding refuse(std::string message) {
    return {StartupFinding::Level::refuse, std::move(message)};
}

StartupFinding warn(std::string message) {
    return {StartupFinding::Level::warn, std::move(message)};
}

std::string modeText(mode_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

std::optional<struct stat> statOf(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

// "readable by everyone" / "writable by everyone" for a mode with o+r or o+w.
std::string othersAccess(mode_t mode) {
    if ((mode & S_IROTH) != 0 && (mode & S_IWOTH) != 0) return "readable and writable by everyone";
    if ((mode & S_IROTH) != 0) return "readable by everyone";
    return "writable by everyone";
}

void checkJournals(const db::StateDir& stateDir, std::vector<StartupFinding>& out) {
    for (const char* suffix : {"-wal", "-shm"}) {
        const fs::path file = stateDir.database().string() + suffix;
        const auto st = statOf(file);
        if (!st || (st->st_mode & (S_IROTH | S_IWOTH)) == 0) continue;
        out.push_back(refuse("database journal " + file.string() + " is " +
                             othersAccess(st->st_mode) + " (mode " + modeText(st->st_mode) +
                             "); fix with: chmod o-rw " + file.string()));
    }
}

// Private SSH keys: others refused (as sshd does), group access a warning.
void checkPrivateKey(const fs::path& file, const char* what, std::vector<StartupFinding>& out) {
    const auto st = statOf(file);
    if (!st) return;  // missing: loading the key reports it
    const mode_t mode = st->st_mode;
    if ((mode & (S_IROTH | S_IWOTH)) != 0) {
        out.push_back(refuse(std::string(what) + " " + file.string() + " is " + othersAccess(mode) +
                             " (mode " + modeText(mode) + "); fix with: chmod 600 " +
                             file.string()));
    } else if ((mode & (S_IRGRP | S_IWGRP)) != 0) {
        out.push_back(warn(std::string(what) + " " + file.string() +
                           " is readable or writable by its group (mode " + modeText(mode) +
                           "); fix with: chmod 600 " + file.string()));
    }
}

// keys/ and recordings/: writable by others means replaceable keys or
// recordings (refused); readable or searchable by others a warning.
void checkSubdirectory(const fs::path& dir, const char* what, std::vector<StartupFinding>& out) {
    const auto st = statOf(dir);
    if (!st || !S_ISDIR(st->st_mode)) return;
    const mode_t mode = st->st_mode;
    if ((mode & S_IWOTH) != 0) {
        out.push_back(refuse(std::string(what) + " " + dir.string() +
                             " is writable by everyone (mode " + modeText(mode) +
                             "); fix with: chmod 700 " + dir.string()));
    } else if ((mode & (S_IROTH | S_IXOTH)) != 0) {
        out.push_back(warn(std::string(what) + " " + dir.string() + " is open to everyone (mode " +
                           modeText(mode) + "); fix with: chmod 700 " + dir.string()));
    }
}

struct SharedFileSystem {
    std::uint32_t magic;
    std::string_view name;
};

// statfs(2) f_type values of file systems whose data lives elsewhere or whose
// locking and permissions are decided by something other than the local kernel.
constexpr std::array<SharedFileSystem, 15> kSharedFileSystems{{
    {0x6969, "nfs"},
    {0x517B, "smb"},
    {0xFF534D42, "cifs"},
    {0xFE534D42, "smb2"},
    {0x65735546, "fuse"},
    {0x73757245, "coda"},
    {0x5346414F, "afs"},
    {0x6B414653, "kafs"},
    {0x00C36400, "ceph"},
    {0x01021997, "9p"},
    {0x7461636F, "ocfs2"},
    {0x01161970, "gfs2"},
    {0x564C, "ncp"},
    {0x0BD00BD0, "lustre"},
    {0x47504653, "gpfs"},
}};

}  // namespace

std::optional<std::string_view> sharedFileSystemName(std::uint64_t fsType) {
    // f_type is a signed word: a 32-bit magic may arrive sign-extended.
    const auto magic = static_cast<std::uint32_t>(fsType);
    for (const auto& shared : kSharedFileSystems) {
        if (shared.magic == magic) return shared.name;
    }
    return std::nullopt;
}

std::optional<StartupFinding> checkFileSystemType(const fs::path& path, std::string_view what,
                                                  std::uint64_t fsType) {
    const auto name = sharedFileSystemName(fsType);
    if (!name) return std::nullopt;
    return warn(std::string(what) + " " + path.string() + " is on a shared file system (" +
                std::string(*name) +
                "): keep the store, master.key, keys and recordings on a local disk "
                "(SQLite locking and WAL are unreliable there, modes may not be enforced, "
                "and secrets cross the network)");
}

std::vector<StartupFinding> checkFileModes(const db::StateDir& stateDir) {
    std::vector<StartupFinding> out;
    // The directory, the database and master.key: the rule every program applies.
    if (auto ok = stateDir.checkPermissions(); !ok) out.push_back(refuse(ok.error()));
    const auto root = statOf(stateDir.root());
    if (!root || !S_ISDIR(root->st_mode)) return out;

    if ((root->st_mode & S_IWOTH) == 0 && (root->st_mode & (S_IROTH | S_IXOTH)) != 0) {
        out.push_back(warn("state directory " + stateDir.root().string() +
                           " is open to everyone (mode " + modeText(root->st_mode) +
                           "); fix with: chmod 700 " + stateDir.root().string()));
    }
    checkJournals(stateDir, out);
    checkPrivateKey(stateDir.hostKey(), "host key", out);
    checkPrivateKey(stateDir.upstreamKey(), "upstream key", out);
    checkSubdirectory(stateDir.keysDir(), "keys directory", out);
    checkSubdirectory(stateDir.recordings(), "recordings directory", out);
    return out;
}

std::optional<StartupFinding> checkEffectiveUser(uid_t euid) {
    if (euid != 0) return std::nullopt;
    return warn(
        "portcullisd is running as root: run it as its own service user (User=portcullis in "
        "portcullisd.service) so that a flaw in the network-facing code does not give root");
}

std::vector<StartupFinding> checkFileSystems(const db::StateDir& stateDir) {
    std::vector<StartupFinding> out;
    struct statfs rootFs {};
    const auto root = statOf(stateDir.root());
    if (!root || ::statfs(stateDir.root().c_str(), &rootFs) != 0) return out;
    if (auto f = checkFileSystemType(stateDir.root(), "state directory",
                                     static_cast<std::uint64_t>(rootFs.f_type))) {
        out.push_back(std::move(*f));
    }
    // Mounted (or linked) elsewhere than the directory itself.
    const std::pair<fs::path, const char*> parts[] = {
        {stateDir.database(), "database"}, {stateDir.recordings(), "recordings directory"}};
    for (const auto& [path, what] : parts) {
        const auto st = statOf(path);
        struct statfs partFs {};
        if (!st || st->st_dev == root->st_dev || ::statfs(path.c_str(), &partFs) != 0) continue;
        if (auto f = checkFileSystemType(path, what, static_cast<std::uint64_t>(partFs.f_type))) {
            out.push_back(std::move(*f));
        }
    }
    return out;
}

std::vector<StartupFinding> checkStartupPosture(const db::StateDir& stateDir) {
    auto out = checkFileModes(stateDir);
    if (auto f = checkEffectiveUser(::geteuid())) out.push_back(std::move(*f));
    for (auto& f : checkFileSystems(stateDir)) out.push_back(std::move(f));
    std::stable_partition(out.begin(), out.end(), [](const StartupFinding& f) {
        return f.level == StartupFinding::Level::refuse;
    });
    return out;
}

bool refusesToStart(const std::vector<StartupFinding>& findings) {
    return std::any_of(findings.begin(), findings.end(), [](const StartupFinding& f) {
        return f.level == StartupFinding::Level::refuse;
    });
}

}  // namespace portcullis::gateway
