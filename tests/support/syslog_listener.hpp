#pragma once
// A datagram socket bound to a path, standing in for /dev/log in tests (the
// gateway's `[server] syslog_socket`, db::SyslogSink's socket).
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace portcullis::test {

// A datagram socket bound to a path, read on demand; `bufferBytes` shrinks
// its receive buffer (a syslog daemon that has stopped reading).
class SyslogListener {
  public:
    explicit SyslogListener(const std::filesystem::path& path, int bufferBytes = 0) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (bufferBytes > 0) {
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bufferBytes, sizeof bufferBytes);
        }
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~SyslogListener() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    SyslogListener(const SyslogListener&) = delete;
    SyslogListener& operator=(const SyslogListener&) = delete;
    bool bound() const { return bound_; }

    // The next message, waiting at most a second.
    std::optional<std::string> receive() {
        timeval tv{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string buffer(65536, '\0');
        const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n < 0) return std::nullopt;
        buffer.resize(static_cast<std::size_t>(n));
        return buffer;
    }

  private:
    std::filesystem::path path_;
    int fd_ = -1;
    bool bound_ = false;
};

}  // namespace portcullis::test
