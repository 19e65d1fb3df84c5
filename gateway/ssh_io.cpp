#include "gateway/ssh_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace portcullis::gateway {

FdWatcher::FdWatcher(Strand strand, int libraryFd)
    : descriptor_(strand), state_(std::make_shared<State>()) {
    fd_ = libraryFd >= 0 ? ::fcntl(libraryFd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd_ >= 0) {
        boost::system::error_code ec;
        descriptor_.assign(fd_, ec);
        if (ec) {
            ::close(fd_);
            fd_ = -1;
        }
    }
}

void FdWatcher::waitReadable(std::function<void(bool)> handler) {
    if (state_->readPending || state_->stopped || fd_ < 0) return;
    state_->readPending = true;
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [state = state_, h = std::move(handler)](const boost::system::error_code& ec) {
            state->readPending = false;
            h(!ec && !state->stopped);
        });
}

void FdWatcher::waitWritable(std::function<void(bool)> handler) {
    if (state_->writePending || state_->stopped || fd_ < 0) return;
    state_->writePending = true;
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_write,
        [state = state_, h = std::move(handler)](const boost::system::error_code& ec) {
            state->writePending = false;
            h(!ec && !state->stopped);
        });
}

bool FdWatcher::readyNow(bool read, bool write) const {
    if (state_->stopped || fd_ < 0 || (!read && !write)) return false;
    pollfd p{fd_, static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0)), 0};
    return ::poll(&p, 1, 0) > 0 && p.revents != 0;
}

void FdWatcher::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
    descriptor_.close(ignored);  // our duplicate; libssh's descriptor is its own
    fd_ = -1;
}

}  // namespace portcullis::gateway
