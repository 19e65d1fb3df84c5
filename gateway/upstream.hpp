#pragma once
// Upstream: the gateway's client session to a target, authenticated with the
// gateway's own key and bound to the target's pinned host key. The TCP
// connection is made by Asio (resolver + connect, never blocking the strand);
// the socket is then handed to libssh (SSH_OPTIONS_FD), which runs the
// handshake and the publickey authentication in non-blocking mode.
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/ssh_handles.hpp"
#include "db/targets.hpp"
#include "gateway/log.hpp"
#include "gateway/ssh_io.hpp"

namespace portcullis::gateway {

class Upstream {
  public:
    enum class State { resolving, handshaking, authenticating, ready, failed };
    enum class Failure { none, unreachable, hostKeyMismatch, authRejected, protocol, timeout };

    Upstream(Strand strand, Logger& log, std::uint64_t connId, db::Target target, std::string login,
             ssh_key identity, std::filesystem::path sshDir);
    ~Upstream();
    Upstream(const Upstream&) = delete;
    Upstream& operator=(const Upstream&) = delete;

    // Resolves and connects; `wake` runs on the strand when there is progress
    // to make (call advance()) or the attempt failed.
    void start(std::function<void()> wake);
    // Drives the SSH handshake and authentication; never blocks.
    void advance();
    void fail(Failure why, std::string message);

    State state() const { return state_; }
    Failure failure() const { return failure_; }
    const std::string& failureMessage() const { return failureMessage_; }
    const std::string& presentedFingerprint() const { return presentedFingerprint_; }
    const db::Target& target() const { return target_; }
    const std::string& login() const { return login_; }
    ssh_session session() const { return session_.get(); }
    FdWatcher* watcher() { return watcher_.get(); }
    // Pumps the socket (incoming packets into channel buffers, pending output out).
    bool pump();
    bool broken() const;
    // Stops the watcher and frees the session (channels must be gone already).
    void close();

  private:
    void onConnected(boost::asio::ip::tcp::socket socket);
    bool verifyHostKey();

    Strand strand_;
    Logger& log_;
    std::uint64_t connId_;
    db::Target target_;
    std::string login_;
    KeyPtr identity_;
    std::filesystem::path sshDir_;
    State state_ = State::resolving;
    Failure failure_ = Failure::none;
    std::string failureMessage_;
    std::string presentedFingerprint_;
    std::shared_ptr<boost::asio::ip::tcp::resolver> resolver_;
    std::shared_ptr<boost::asio::ip::tcp::socket> connecting_;
    // Owners, in dependency order: the session outlives its event; the
    // watcher holds its own duplicate of the descriptor.
    int rawFd_ = -1;              // the descriptor given to libssh
    bool connectCalled_ = false;  // from then on libssh manages rawFd_
    SessionPtr session_;
    EventPtr event_;
    std::unique_ptr<FdWatcher> watcher_;
};

}  // namespace portcullis::gateway
