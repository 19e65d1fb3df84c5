#include "db/state_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace portcullis::db {
namespace fs = std::filesystem;
namespace {

std::string errnoText() {
    return std::strerror(errno);
}

Result<void> makeDir(const fs::path& dir, mode_t mode) {
    if (::mkdir(dir.c_str(), mode) == 0) return {};
    if (errno == EEXIST) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
        return makeError(dir.string() + " exists and is not a directory");
    }
    return makeError("cannot create " + dir.string() + ": " + errnoText());
}

}  // namespace

StateDir StateDir::resolve(const std::optional<std::string>& flag) {
    if (flag && !flag->empty()) return StateDir(*flag);
    if (const char* env = std::getenv(kStateDirEnv); env && *env) return StateDir(env);
    return StateDir(kDefaultStateDir);
}

bool StateDir::exists() const {
    std::error_code ec;
    return fs::is_regular_file(database(), ec);
}

Result<void> StateDir::create() const {
    std::error_code ec;
    if (!root_.parent_path().empty()) fs::create_directories(root_.parent_path(), ec);
    if (auto r = makeDir(root_, 0700); !r) return r;
    for (const auto& sub : {keysDir(), recordings()}) {
        const bool isNew = !fs::exists(sub, ec);
        if (auto r = makeDir(sub, 0700); !r) return r;
        if (isNew) {
            if (auto r = adopt(sub, 0700); !r) return r;
        }
    }
    return checkPermissions();
}

Result<void> StateDir::checkPermissions() const {
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0) {
        return makeError("state directory " + root_.string() + ": " + errnoText() +
                         " (run `portcullis init`, or pass --state-dir)");
    }
    if (!S_ISDIR(st.st_mode)) return makeError(root_.string() + " is not a directory");
    if (st.st_mode & S_IWOTH) {
        return makeError("state directory " + root_.string() +
                         " is world-writable; fix with: chmod o-w " + root_.string());
    }
    if (::stat(database().c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
        return makeError("database " + database().string() +
                         " is readable by everyone; fix with: chmod o-rw " + database().string());
    }
    if (::stat(masterKey().c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        return makeError("master key " + masterKey().string() +
                         " is readable by others; fix with: chmod 600 " + masterKey().string());
    }
    return {};
}

Result<void> StateDir::adopt(const fs::path& file, mode_t mode) const {
    struct stat dir {};
    if (::stat(root_.c_str(), &dir) != 0) {
        return makeError("state directory " + root_.string() + ": " + errnoText());
    }
    if (::geteuid() == 0 && ::chown(file.c_str(), dir.st_uid, dir.st_gid) != 0) {
        return makeError("cannot give " + file.string() +
                         " to the state directory's owner: " + errnoText());
    }
    if (::chmod(file.c_str(), mode) != 0) {
        return makeError("cannot set the mode of " + file.string() + ": " + errnoText());
    }
    return {};
}

}  // namespace portcullis::db
