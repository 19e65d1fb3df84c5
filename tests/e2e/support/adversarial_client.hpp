#pragma once
// tests/e2e/clients/adversarial_client.py: a hostile SSH client (paramiko, from
// Debian's /usr/bin/python3) that follows the SSH state machine in the wrong
// order on purpose. Each case prints "OK name: ..." or "FAIL name: ..." per
// check, and first proves that the legitimate path works.
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace portcullis::test {

inline constexpr const char* kParamikoPython = "/usr/bin/python3";

inline std::filesystem::path adversarialClientScript() {
    return std::filesystem::path(PORTCULLIS_SOURCE_DIR) / "tests/e2e/clients/adversarial_client.py";
}

// Runs one case; the output is echoed for the test log.
ProcessResult runAdversarialClient(const std::string& testCase,
                                   const std::vector<std::string>& args);
// Empty when paramiko is importable, else why not (the test fails with it).
std::string paramikoMissing();

}  // namespace portcullis::test
