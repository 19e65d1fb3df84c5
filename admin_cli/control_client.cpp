#include "admin_cli/control_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "admin_cli/cli_error.hpp"
#include "common/unique_fd.hpp"

namespace portcullis::cli {
namespace {

constexpr std::size_t kMaxResponse = 16 * 1024 * 1024;

}  // namespace

nlohmann::json controlRequest(const std::filesystem::path& socketPath,
                              const nlohmann::json& request, std::chrono::seconds timeout) {
    const std::string notRunning = "portcullisd is not running (no " + socketPath.string() + ")";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socketPath.string();
    if (path.size() >= sizeof addr.sun_path) {
        throw Failure("the control socket path is too long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw Failure(std::string("cannot create a socket: ") + std::strerror(errno));
    timeval deadline{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &deadline, sizeof deadline);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == ENOENT || errno == ECONNREFUSED) throw Failure(notRunning);
        if (errno == EACCES || errno == EPERM) {
            throw Failure("permission denied on " + path + " (run as root or the service user)");
        }
        throw Failure("cannot connect to " + path + ": " + std::strerror(errno));
    }
    const std::string line = request.dump() + "\n";
    std::size_t sent = 0;
    while (sent < line.size()) {
        const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Failure("cannot talk to portcullisd on " + path);
        sent += static_cast<std::size_t>(n);
    }
    std::string response;
    char buf[65536];
    while (response.find('\n') == std::string::npos && response.size() < kMaxResponse) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            throw Failure("portcullisd did not answer on " + path);
        }
        if (n <= 0) break;
        response.append(buf, static_cast<std::size_t>(n));
    }
    const auto end = response.find('\n');
    if (end != std::string::npos) response.resize(end);
    try {
        auto parsed = nlohmann::json::parse(response);
        if (!parsed.is_object()) throw Failure("portcullisd sent a malformed answer");
        return parsed;
    } catch (const nlohmann::json::exception&) {
        throw Failure("portcullisd sent a malformed answer");
    }
}

}  // namespace portcullis::cli
