#include "admin_cli/live_recheck.hpp"

#include <chrono>

#include "admin_cli/cli_error.hpp"
#include "admin_cli/control_client.hpp"

namespace portcullis::cli {
namespace {

// The change is committed already: a daemon that does not answer soon must
// not hold up the command (its periodic re-check ends the sessions anyway).
constexpr std::chrono::seconds kRecheckTimeout{5};

}  // namespace

RecheckOutcome requestRecheck(const db::StateDir& dir, const std::optional<std::string>& account) {
    RecheckOutcome outcome;
    const std::string whose = account ? "of " + *account : "";
    std::error_code ec;
    if (!std::filesystem::exists(dir.controlSocket(), ec)) {
        outcome.note = "portcullisd is not running here: no live connection to end";
        return outcome;
    }
    nlohmann::json request = {{"op", "recheck"}};
    if (account) request["account"] = *account;
    try {
        const auto response = controlRequest(dir.controlSocket(), request, kRecheckTimeout);
        const auto connections = response.find("connections");
        if (response.value("ok", false) && connections != response.end() &&
            connections->is_number_integer()) {
            outcome.connections = connections->get<int>();
            outcome.note = "portcullisd re-checked " + std::to_string(*outcome.connections) +
                           " live connection(s)" + (whose.empty() ? "" : " " + whose);
            return outcome;
        }
        outcome.note = "portcullisd did not re-check at once (" +
                       response.value("error", std::string("no recheck operation")) +
                       "); its periodic re-check ends the sessions within its interval";
    } catch (const Failure& e) {
        outcome.note = std::string(e.what()) +
                       "; a running portcullisd ends the sessions at its periodic re-check";
    }
    return outcome;
}

nlohmann::json recheckJson(const RecheckOutcome& outcome) {
    return outcome.connections ? nlohmann::json(*outcome.connections) : nlohmann::json(nullptr);
}

}  // namespace portcullis::cli
