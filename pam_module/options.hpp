#pragma once
// The module's arguments from the PAM stack line (SPEC §9):
//   auth required pam_portcullis.so [state_dir=DIR] [account=same|ask] [group=NAME]
//                                   [window=N] [debug]
// Anything else is refused: a typo must not silently weaken the check.
#include <filesystem>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace portcullis::pam {

enum class AccountMode {
    same,  // the PAM user is the Portcullis account
    ask,   // prompt "Portcullis account: " (a root login names the person behind it)
};

inline constexpr int kMaxWindow = 10;  // steps either side; more would make codes guessable

struct ModuleOptions {
    // Never taken from the environment: under su/sudo the caller controls it, and
    // a store of the caller's choosing would accept a code of the caller's choosing.
    std::filesystem::path stateDir = "/var/lib/portcullis";
    AccountMode account = AccountMode::same;
    std::optional<std::string> group;
    std::optional<int> window;  // TotpParams.window; the store's default when unset
    bool debug = false;
};

Result<ModuleOptions> parseOptions(int argc, const char** argv);

}  // namespace portcullis::pam
