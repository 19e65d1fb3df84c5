#pragma once
// Asio readiness for a descriptor that a non-blocking C library (libssh) owns
// (see Asio's example nonblocking/third_party_lib.cpp). The watcher waits on a
// duplicate of the descriptor, which it owns: libssh closes its own descriptor
// whenever it sees an error, and a number closed under the reactor could be
// reused by another connection; the duplicate keeps the registration sound.
//
// Asio's epoll reactor is edge-triggered and a wait is never speculative, so a
// readiness edge that came while no wait was pending is not reported again:
// after arming, readyNow() tells whether to run the connection once more now.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/strand.hpp>

#include <functional>
#include <memory>

namespace portcullis::gateway {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

class FdWatcher {
  public:
    FdWatcher(Strand strand, int libraryFd);
    ~FdWatcher() { stop(); }
    FdWatcher(const FdWatcher&) = delete;
    FdWatcher& operator=(const FdWatcher&) = delete;

    // At most one wait of each kind is outstanding; asking again while one is
    // pending does nothing. The handler runs on the strand, with ok = false
    // when the wait was cancelled or failed.
    void waitReadable(std::function<void(bool ok)> handler);
    void waitWritable(std::function<void(bool ok)> handler);
    // Is the socket readable / writable right now (poll with no timeout)?
    bool readyNow(bool read, bool write) const;
    int fd() const { return fd_; }
    // Cancels the waits and closes the duplicate.
    void stop();

  private:
    // Shared with pending handlers, so that the watcher may go away first.
    struct State {
        bool readPending = false;
        bool writePending = false;
        bool stopped = false;
    };
    int fd_ = -1;
    asio::posix::stream_descriptor descriptor_;
    std::shared_ptr<State> state_;
};

}  // namespace portcullis::gateway
