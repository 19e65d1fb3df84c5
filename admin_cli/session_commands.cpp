// portcullis session ...: needs the gateway's recordings and control socket,
// which do not exist yet. The command is registered so that it says so plainly
// (exit 1) instead of being an unknown command or pretending to work.
#include <iostream>

#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"

namespace portcullis::cli {
namespace {

int sessionNotYet(Invocation& inv) {
    if (inv.globals().help) {
        std::cout
            << "Usage: portcullis session (list|show|play|export|search|verify|kill|prune) ...\n\n"
               "Session review and control need the gateway (portcullisd), which is not\n"
               "yet available in this build.\n";
        return kExitOk;
    }
    throw Failure("session commands need the gateway (not yet available)");
}

}  // namespace

std::vector<CommandSpec> sessionCommands() {
    return {
        {.path = "session",
         .usage = "(list|show|play|export|search|verify|kill|prune) ...",
         .summary = "recorded sessions (needs the gateway: not yet available)",
         .run = sessionNotYet,
         .rawArgs = true},
    };
}

}  // namespace portcullis::cli
