#pragma once
// ControlServer: portcullisd's control socket STATE_DIR/control.sock (SPEC §2,
// §4 `session list --active` / `session kill`). An AF_UNIX stream socket,
// mode 0600, served on the io_context: one JSON request line in, one JSON
// response line out, then the connection closes.
//   {"op":"list"}                          -> {"ok":true,"sessions":[...]}
//   {"op":"kill","id":"...","by":"name"[,"reason":"text"]}
//                                          -> {"ok":true} | {"ok":false,"error":...}
//   {"op":"recheck"[,"account":"name"]}    -> {"ok":true,"connections":N}
// Access: the socket's mode (root and the service user), and the peer's
// SO_PEERCRED uid must be 0 or the daemon's own.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "gateway/log.hpp"

namespace portcullis::gateway {

inline constexpr std::size_t kControlMaxLine = 64 * 1024;
inline constexpr std::chrono::seconds kControlReadTimeout{5};

struct ControlHandlers {
    // Every live session as a JSON object (any thread).
    std::function<nlohmann::json()> list;
    // Ends a live session, telling its user `reason` (may be empty); false
    // when no live session has this id.
    std::function<bool(const std::string& id, const std::string& by, const std::string& reason)>
        kill;
    // Re-checks the connections of `account` ("": every connection) now;
    // returns how many were asked.
    std::function<int(const std::string& account)> recheck;
};

class ControlServer {
  public:
    ControlServer(boost::asio::io_context& io, std::filesystem::path path, ControlHandlers handlers,
                  Logger& log);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Binds the socket (mode 0600), replacing a stale file left by a crashed
    // daemon; refuses when another daemon answers on it.
    Result<void> open();
    void start();
    // Stops accepting (posted to the acceptor's strand); the file is removed.
    void close();

    // The response to one request line (exposed for clarity; no I/O).
    nlohmann::json handle(const std::string& line) const;

  private:
    void accept();
    void removeFile();

    boost::asio::io_context& io_;
    std::filesystem::path path_;
    ControlHandlers handlers_;
    Logger& log_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    bool bound_ = false;
};

}  // namespace portcullis::gateway
