#pragma once
// The CLI's side of portcullisd's control socket (STATE_DIR/control.sock):
// one JSON request line, one JSON response line. A missing socket, or one
// nobody answers on, is "portcullisd is not running" (a Failure, exit 1).
#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace portcullis::cli {

// Sends `request` and returns the daemon's response object (its "ok" not yet checked).
nlohmann::json controlRequest(const std::filesystem::path& socketPath,
                              const nlohmann::json& request,
                              std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace portcullis::cli
