#include "gateway/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace portcullis::gateway {

Result<InstanceLock> InstanceLock::acquire(const db::StateDir& dir) {
    const auto path = dir.root() / "portcullisd.lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        return makeError("cannot open the instance lock " + path.string() + ": " +
                         std::strerror(errno));
    }
    (void)dir.adopt(path, 0600);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        if (error != EWOULDBLOCK) {
            return makeError("cannot take the instance lock " + path.string() + ": " +
                             std::strerror(error));
        }
        char pid[32] = {0};
        const auto n = ::pread(fd.get(), pid, sizeof pid - 1, 0);
        std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
            holder.pop_back();
        return makeError("another portcullisd" + (holder.empty() ? "" : " (pid " + holder + ")") +
                         " is already running on " + dir.root().string() +
                         "; stop it first (systemctl stop portcullisd), or give this one its own "
                         "--state-dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) (void)::pwrite(fd.get(), pid.data(), pid.size(), 0);
    return InstanceLock(std::move(fd));
}

}  // namespace portcullis::gateway
