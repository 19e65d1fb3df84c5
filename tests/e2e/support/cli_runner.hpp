#pragma once
// The real `portcullis` on a test's state directory, as an operator runs it:
// the state directory is given on the line (a $PORTCULLIS_STATE_DIR of the
// test's own environment is dropped), and SUDO_USER names the operator the
// audit chain records (none given: the Unix user, as without sudo).
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::test {

inline ProcessResult runCli(const std::filesystem::path& stateDir, std::vector<std::string> args,
                            const std::string& operatorName = "",
                            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", stateDir.string()});
    ProcessOptions options;
    if (!operatorName.empty()) options.env.emplace("SUDO_USER", operatorName);
    options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
    options.timeout = timeout;
    return runProcess(args, options);
}

}  // namespace portcullis::test
