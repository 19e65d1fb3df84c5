#pragma once
// StateDir: the one directory every Portcullis program shares (SPEC §2), and the
// rules for the files in it: files created by any program (root or the service
// user) take the owner and group of the directory, so that the others can use them.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace portcullis::db {

inline constexpr const char* kDefaultStateDir = "/var/lib/portcullis";
inline constexpr const char* kStateDirEnv = "PORTCULLIS_STATE_DIR";

class StateDir {
  public:
    explicit StateDir(std::filesystem::path root) : root_(std::move(root)) {}
    // --state-dir flag, else $PORTCULLIS_STATE_DIR, else /var/lib/portcullis.
    static StateDir resolve(const std::optional<std::string>& flag);

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path database() const { return root_ / "portcullis.db"; }
    std::filesystem::path masterKey() const { return root_ / "master.key"; }
    std::filesystem::path keysDir() const { return root_ / "keys"; }
    std::filesystem::path hostKey() const { return keysDir() / "host_ed25519"; }
    std::filesystem::path upstreamKey() const { return keysDir() / "upstream_ed25519"; }
    std::filesystem::path recordings() const { return root_ / "recordings"; }
    std::filesystem::path controlSocket() const { return root_ / "control.sock"; }
    std::filesystem::path auditLog() const { return root_ / "audit.log"; }

    // Creates the directory (0700) and its subdirectories keys/ and recordings/
    // if missing. Idempotent; never loosens existing modes.
    Result<void> create() const;
    // Is there a state directory at all (with a database)?
    bool exists() const;
    // Refuses a world-readable/writable directory, database or master key.
    Result<void> checkPermissions() const;

    // Gives a file this program just created the directory's owner and group
    // (when running as root) and the given mode. Call on every new file.
    Result<void> adopt(const std::filesystem::path& file, mode_t mode) const;

  private:
    std::filesystem::path root_;
};

}  // namespace portcullis::db
