#include "gateway/upstream.hpp"

#include <unistd.h>

#include <boost/asio/connect.hpp>

#include "common/ssh_public_key.hpp"

namespace portcullis::gateway {
namespace {

// The host key algorithms that make the target present its pinned key type.
const char* hostKeyAlgorithmsFor(const std::string& type) {
    if (type == "ssh-rsa") return "rsa-sha2-512,rsa-sha2-256";
    if (type == "ssh-ed25519") return "ssh-ed25519";
    if (type == "ecdsa-sha2-nistp256") return "ecdsa-sha2-nistp256";
    if (type == "ecdsa-sha2-nistp384") return "ecdsa-sha2-nistp384";
    if (type == "ecdsa-sha2-nistp521") return "ecdsa-sha2-nistp521";
    return nullptr;
}

std::string fingerprintOf(const std::string& blob) {
    auto key = SshPublicKey::fromBlob(blob);
    return key ? key->fingerprint() : std::string("unparseable");
}

}  // namespace

Upstream::Upstream(Strand strand, Logger& log, std::uint64_t connId, db::Target target,
                   std::string login, ssh_key identity, std::filesystem::path sshDir)
    : strand_(std::move(strand)),
      log_(log),
      connId_(connId),
      target_(std::move(target)),
      login_(std::move(login)),
      identity_(ssh_key_dup(identity)),
      sshDir_(std::move(sshDir)) {}

Upstream::~Upstream() {
    close();
}

void Upstream::start(std::function<void()> wake) {
    namespace ip = boost::asio::ip;
    resolver_ = std::make_shared<ip::tcp::resolver>(strand_);
    connecting_ = std::make_shared<ip::tcp::socket>(strand_);
    resolver_->async_resolve(
        target_.host, std::to_string(target_.port),
        [this, wake, resolver = resolver_, socket = connecting_](
            const boost::system::error_code& ec, ip::tcp::resolver::results_type results) {
            if (ec == boost::asio::error::operation_aborted || state_ != State::resolving)
                return wake();
            if (ec) {
                fail(Failure::unreachable, "cannot resolve " + target_.host + ": " + ec.message());
                return wake();
            }
            boost::asio::async_connect(*socket, results,
                                       [this, wake, socket](const boost::system::error_code& ec2,
                                                            const ip::tcp::endpoint&) {
                                           if (state_ != State::resolving) return wake();
                                           if (ec2) {
                                               fail(Failure::unreachable,
                                                    "cannot connect to " + target_.host + ":" +
                                                        std::to_string(target_.port) + ": " +
                                                        ec2.message());
                                               return wake();
                                           }
                                           onConnected(std::move(*socket));
                                           wake();
                                       });
        });
}

void Upstream::onConnected(boost::asio::ip::tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    socket_t fd = socket.release();
    session_.reset(ssh_new());
    if (!session_) {
        ::close(fd);
        return fail(Failure::protocol, "out of memory");
    }
    ssh_session s = session_.get();
    bool processConfig = false;
    const char* hostKeys = hostKeyAlgorithmsFor(target_.hostKey.type);
    const std::string sshDir = sshDir_.string();
    if (!hostKeys || ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &processConfig) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_HOST, target_.host.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_USER, login_.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_SSH_DIR, sshDir.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, hostKeys) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_COMPRESSION, "no") != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_FD, &fd) != SSH_OK) {
        if (ssh_get_fd(s) != fd) ::close(fd);
        return fail(Failure::protocol,
                    std::string("cannot configure the target session: ") + ssh_get_error(s));
    }
    ssh_set_blocking(s, 0);
    rawFd_ = fd;
    watcher_ = std::make_unique<FdWatcher>(strand_, fd);
    state_ = State::handshaking;
}

void Upstream::advance() {
    if (state_ == State::handshaking) {
        connectCalled_ = true;
        const int rc = ssh_connect(session_.get());
        if (rc == SSH_AGAIN) return;
        if (rc != SSH_OK) {
            return fail(Failure::protocol, std::string("SSH handshake with the target failed: ") +
                                               ssh_get_error(session_.get()));
        }
        if (!verifyHostKey()) return;
        event_.reset(ssh_event_new());
        if (!event_ || ssh_event_add_session(event_.get(), session_.get()) != SSH_OK) {
            return fail(Failure::protocol, "cannot watch the target session");
        }
        state_ = State::authenticating;
    }
    if (state_ == State::authenticating) {
        const int rc = ssh_userauth_publickey(session_.get(), nullptr, identity_.get());
        if (rc == SSH_AUTH_AGAIN) return;
        if (rc != SSH_AUTH_SUCCESS) {
            return fail(Failure::authRejected,
                        "the target refused the gateway's key for login " + login_);
        }
        state_ = State::ready;
        log_.info("upstream.ready",
                  {{"conn", connId_}, {"target", target_.name}, {"login", login_}});
    }
}

bool Upstream::verifyHostKey() {
    ssh_key raw = nullptr;
    if (ssh_get_server_publickey(session_.get(), &raw) != SSH_OK) {
        fail(Failure::protocol, "the target presented no host key");
        return false;
    }
    KeyPtr presented(raw);
    const std::string blob = publicKeyBlob(presented.get());
    presentedFingerprint_ = fingerprintOf(blob);
    const std::string pinned(target_.hostKey.blob.begin(), target_.hostKey.blob.end());
    if (blob.empty() || blob != pinned) {
        fail(Failure::hostKeyMismatch,
             "host key of target " + target_.name + " does not match the pinned key (presented " +
                 presentedFingerprint_ + ", pinned " + target_.hostKey.fingerprint() +
                 "); refusing to connect");
        return false;
    }
    return true;
}

void Upstream::fail(Failure why, std::string message) {
    if (state_ == State::failed) return;
    state_ = State::failed;
    failure_ = why;
    failureMessage_ = std::move(message);
    if (resolver_) resolver_->cancel();
    if (connecting_) {
        boost::system::error_code ignored;
        connecting_->close(ignored);
    }
    log_.warn("upstream.failed",
              {{"conn", connId_}, {"target", target_.name}, {"error", failureMessage_}});
}

bool Upstream::pump() {
    if (!event_) return true;
    return ssh_event_dopoll(event_.get(), 0) != SSH_ERROR;
}

bool Upstream::broken() const {
    if (!session_) return state_ == State::failed;
    const int status = ssh_get_status(session_.get());
    return (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 || !ssh_is_connected(session_.get());
}

void Upstream::close() {
    if (resolver_) resolver_->cancel();
    if (connecting_) {
        boost::system::error_code ignored;
        connecting_->close(ignored);
    }
    if (watcher_) watcher_->stop();
    event_.reset();
    // libssh closes the descriptor itself after an error (and then reports
    // none); a descriptor given by SSH_OPTIONS_FD is left open by
    // ssh_disconnect, so it is closed here, exactly once.
    bool closeFd = false;
    if (session_) closeFd = !connectCalled_ || ssh_get_fd(session_.get()) == rawFd_;
    session_.reset();
    if (closeFd && rawFd_ >= 0) ::close(rawFd_);
    rawFd_ = -1;
}

}  // namespace portcullis::gateway
