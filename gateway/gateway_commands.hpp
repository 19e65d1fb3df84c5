#pragma once
// Gateway commands (SPEC §11): an exec request on a connection that names no
// target runs a built-in command on the gateway itself, after both factors:
// `ssh -p 2222 alice@gw targets`. The command line is split into words as a
// POSIX shell would (common/shell_words) and never run by a shell. Each run
// is audited (`gateway.command`); anything unknown is a one-line refusal,
// exit 1. Runs on a store worker; the result goes back to the channel.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "db/access_list.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {

struct CommandOutput {
    std::string out;  // stdout, "\n" line ends
    std::string err;  // one line "portcullis: ..." when refused
    int status = 0;
};

CommandOutput runGatewayCommand(DbContext& ctx, const std::string& account,
                                const std::string& commandLine, const PeerInfo& peer,
                                TimePoint now);

// The `targets` listing (exposed for tests): what `account` may reach now and later.
std::string targetsText(const std::string& account, const std::vector<db::AccessEntry>& entries,
                        TimePoint now);
nlohmann::json targetsJson(const std::vector<db::AccessEntry>& entries);

}  // namespace portcullis::gateway
