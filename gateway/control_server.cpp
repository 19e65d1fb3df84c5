#include "gateway/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <memory>

#include "db/locks.hpp"

namespace portcullis::gateway {
namespace {

using boost::asio::local::stream_protocol;
using nlohmann::json;

json failure(const std::string& message) {
    return {{"ok", false}, {"error", message}};
}

// A reason for a terminal: at most `limit` bytes, controls as '?'.
std::string printableLine(const std::string& text, std::size_t limit) {
    std::string out;
    for (char c : text.substr(0, limit)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    return out;
}

// One client of the control socket: one request line, one response line.
class ControlClient : public std::enable_shared_from_this<ControlClient> {
  public:
    ControlClient(stream_protocol::socket socket, const ControlServer& server, Logger& log)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server), log_(log) {}

    void start() {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != ::geteuid())) {
            log_.warn("control.refused", {{"uid", static_cast<std::int64_t>(cred.uid)}});
            return respond(failure("permission denied"));
        }
        auto self = shared_from_this();
        timer_.expires_after(kControlReadTimeout);
        timer_.async_wait([self](const boost::system::error_code& ec) {
            if (ec) return;
            boost::system::error_code ignored;
            self->socket_.close(ignored);  // never sent a line: dropped
        });
        boost::asio::async_read_until(
            socket_, boost::asio::dynamic_buffer(buffer_, kControlMaxLine), '\n',
            [self](const boost::system::error_code& ec, std::size_t n) { self->onLine(ec, n); });
    }

  private:
    void onLine(const boost::system::error_code& ec, std::size_t n) {
        timer_.cancel();
        if (ec == boost::asio::error::not_found) {
            return respond(failure("request too long (limit " +
                                   std::to_string(kControlMaxLine / 1024) + " KiB)"));
        }
        std::string line;
        if (!ec) {
            line = buffer_.substr(0, n - 1);
        } else if (ec == boost::asio::error::eof && !buffer_.empty()) {
            line = buffer_;  // the last line without its newline
        } else {
            return;  // closed, timed out or failed: nothing to answer
        }
        respond(server_.handle(line));
    }

    void respond(const json& response) {
        response_ = response.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        auto self = shared_from_this();
        boost::asio::async_write(socket_, boost::asio::buffer(response_),
                                 [self](const boost::system::error_code&, std::size_t) {
                                     boost::system::error_code ignored;
                                     self->socket_.shutdown(stream_protocol::socket::shutdown_both,
                                                            ignored);
                                     self->socket_.close(ignored);
                                 });
    }

    stream_protocol::socket socket_;
    boost::asio::steady_timer timer_;
    const ControlServer& server_;
    Logger& log_;
    std::string buffer_;
    std::string response_;
};

}  // namespace

ControlServer::ControlServer(boost::asio::io_context& io, std::filesystem::path path,
                             ControlHandlers handlers, Logger& log)
    : io_(io),
      path_(std::move(path)),
      handlers_(std::move(handlers)),
      log_(log),
      strand_(boost::asio::make_strand(io)),
      acceptor_(strand_) {}

ControlServer::~ControlServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    removeFile();
}

Result<void> ControlServer::open() {
    namespace fs = std::filesystem;
    std::error_code fec;
    const auto status = fs::symlink_status(path_, fec);
    if (fs::exists(status)) {
        if (!fs::is_socket(status)) {
            return makeError(path_.string() + " exists and is not a socket; remove it");
        }
        // A daemon that still answers keeps its socket; a stale one is replaced.
        stream_protocol::socket probe(io_);
        boost::system::error_code ec;
        probe.connect(stream_protocol::endpoint(path_.string()), ec);
        if (!ec) {
            return makeError("another portcullisd is running on this state directory (" +
                             path_.string() + " answers)");
        }
        log_.warn("control.stale_socket", {{"path", path_.string()}});
    }
    // Bound under a temporary name, restricted to 0600, then renamed into
    // place: the socket is never reachable with a wider mode (no umask race
    // with the other threads).
    const fs::path temporary = path_.string() + ".new";
    fs::remove(temporary, fec);
    boost::system::error_code ec;
    const stream_protocol::endpoint endpoint(temporary.string());
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (ec) return makeError("cannot create " + temporary.string() + ": " + ec.message());
    if (::chmod(temporary.c_str(), 0600) != 0) {
        fs::remove(temporary, fec);
        return makeError("cannot restrict " + temporary.string() + " to mode 0600");
    }
    acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (!ec) {
        fs::rename(temporary, path_, fec);
        if (fec) ec = boost::system::error_code(fec.value(), boost::system::system_category());
    }
    if (ec) {
        fs::remove(temporary, fec);
        return makeError("cannot serve " + path_.string() + ": " + ec.message());
    }
    bound_ = true;
    return {};
}

void ControlServer::start() {
    boost::asio::post(strand_, [this] { accept(); });
}

void ControlServer::close() {
    boost::asio::post(strand_, [this] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        removeFile();
    });
}

void ControlServer::accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(
        boost::asio::make_strand(io_),
        [this](const boost::system::error_code& ec, stream_protocol::socket socket) {
            if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
            if (!ec) {
                std::make_shared<ControlClient>(std::move(socket), *this, log_)->start();
            } else {
                log_.warn("control.accept_failed", {{"error", ec.message()}});
            }
            accept();
        });
}

void ControlServer::removeFile() {
    if (!bound_) return;
    bound_ = false;
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
}

json ControlServer::handle(const std::string& line) const {
    json request;
    try {
        request = json::parse(line);
    } catch (const json::exception&) {
        return failure("bad request: not JSON");
    }
    if (!request.is_object() || !request.contains("op") || !request["op"].is_string()) {
        return failure("bad request: expected an object with \"op\"");
    }
    const auto op = request["op"].get<std::string>();
    if (op == "list") {
        return {{"ok", true}, {"sessions", handlers_.list()}};
    }
    if (op == "kill") {
        if (!request.contains("id") || !request["id"].is_string()) {
            return failure("bad request: kill needs \"id\"");
        }
        const auto id = request["id"].get<std::string>();
        std::string by = "unknown";
        if (request.contains("by") && request["by"].is_string()) {
            by = request["by"].get<std::string>().substr(0, 64);
        }
        // Shown on the user's terminal: one line, no control characters
        // (the CLI refuses them; a raw client gets them replaced).
        std::string reason;
        if (request.contains("reason")) {
            if (!request["reason"].is_string())
                return failure("bad request: kill's \"reason\" is a string");
            reason = db::shownReason(request["reason"].get<std::string>());
        }
        const std::string operatorName = printableLine(by, 64);
        if (!handlers_.kill(id, operatorName, reason))
            return failure("no live session " + id.substr(0, 64));
        log_.info("control.kill", {{"session", id}, {"by", operatorName}, {"reason", reason}});
        return {{"ok", true}};
    }
    if (op == "recheck") {
        // An administrator changed an account or a grant: the connections it
        // concerns decide again now, not at their next interval.
        std::string account;
        if (request.contains("account")) {
            if (!request["account"].is_string() || request["account"].get<std::string>().empty())
                return failure("bad request: recheck takes an account name");
            account = request["account"].get<std::string>().substr(0, 256);
        }
        const int connections = handlers_.recheck(account);
        log_.info("control.recheck",
                  {{"account", account.empty() ? "*" : account}, {"connections", connections}});
        return {{"ok", true}, {"connections", connections}};
    }
    return failure("unknown op \"" + op.substr(0, 32) + "\"");
}

}  // namespace portcullis::gateway
