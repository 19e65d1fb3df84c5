#pragma once
// Start-up posture checks for portcullisd (deployment on a hardened host): what
// the gateway refuses to start with, and what it only warns about.
//
//   refuse: a state directory, database (or its -wal/-shm), master.key, host key
//           or upstream key that others can read or write;
//   warn:   running as root; the state directory (or the database or recordings/
//           mounted apart from it) on a network or FUSE file system; a directory
//           of the store or a private key that others (group, everyone) can enter
//           or read without being refused outright.
//
// The functions only look (stat, statfs, the uid they are given) and return
// findings; Server::prepare refuses on the first `refuse` and logs the warnings.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/state_dir.hpp"

namespace portcullis::gateway {

struct StartupFinding {
    enum class Level { refuse, warn };
    Level level = Level::refuse;
    std::string message;  // one line for a person: names the file and the fix

    bool operator==(const StartupFinding&) const = default;
};

// Every check for the running process (geteuid(), the real file systems).
// Refusals come first, in a stable order.
std::vector<StartupFinding> checkStartupPosture(const db::StateDir& stateDir);

// True when any finding is a refusal.
bool refusesToStart(const std::vector<StartupFinding>& findings);

// The pieces, for tests and for callers that want only some of them.

// Modes of the state directory, its subdirectories, the database and its
// journals, master.key and the two private keys. Reuses db::StateDir's own
// checkPermissions() (directory, database, master.key) and adds the rest.
std::vector<StartupFinding> checkFileModes(const db::StateDir& stateDir);

// A warning when `euid` is root.
std::optional<StartupFinding> checkEffectiveUser(uid_t euid);

// Warnings for the state directory, and for the database and recordings/ when
// they are on another file system than the directory, when that file system
// is shared over a network or is FUSE (statfs f_type).
std::vector<StartupFinding> checkFileSystems(const db::StateDir& stateDir);

// The warning for `path` whose statfs f_type is `fsType`, if that type is shared.
std::optional<StartupFinding> checkFileSystemType(const std::filesystem::path& path,
                                                  std::string_view what, std::uint64_t fsType);

// The name of a network or FUSE file system type (statfs f_type), or nothing for
// a local one (ext4, xfs, btrfs, tmpfs, overlay...).
std::optional<std::string_view> sharedFileSystemName(std::uint64_t fsType);

}  // namespace portcullis::gateway
