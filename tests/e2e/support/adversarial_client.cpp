#include "tests/e2e/support/adversarial_client.hpp"

#include <iostream>

namespace portcullis::test {

ProcessResult runAdversarialClient(const std::string& testCase,
                                   const std::vector<std::string>& args) {
    std::vector<std::string> argv{kParamikoPython, adversarialClientScript().string(), testCase};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.timeout = std::chrono::seconds(120);
    auto r = runProcess(argv, options);
    std::cout << "---- adversarial_client.py " << testCase << " ----\n" << r.out << r.err;
    return r;
}

std::string paramikoMissing() {
    if (!std::filesystem::exists(kParamikoPython))
        return std::string(kParamikoPython) + " is missing";
    const auto probe = runProcess({kParamikoPython, "-c", "import paramiko"});
    if (probe.exitCode == 0) return {};
    return std::string("paramiko is not importable from ") + kParamikoPython +
           " (apt-get install python3-paramiko): " + probe.err;
}

}  // namespace portcullis::test
