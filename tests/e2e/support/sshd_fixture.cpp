#include "tests/e2e/support/sshd_fixture.hpp"

#include <signal.h>

#include <sstream>
#include <stdexcept>

namespace portcullis::test {

SshdFixture::SshdFixture(const std::string& authorizedKeys) {
    namespace fs = std::filesystem;
    const fs::path dir = dir_.path();
    std::error_code ec;
    fs::create_directories("/run/sshd", ec);
    const auto key = dir / "ssh_host_ed25519_key";
    const auto gen =
        runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()});
    if (gen.exitCode != 0) throw std::runtime_error("ssh-keygen failed: " + gen.err);
    std::istringstream pub(readFile(key.string() + ".pub"));
    std::string type, base64;
    pub >> type >> base64;
    hostKeyLine_ = type + " " + base64;
    writeFile(dir / "authorized_keys", authorizedKeys, 0644);

    port_ = freeLoopbackPort();
    std::ostringstream config;
    config << "Port " << port_ << "\n"
           << "ListenAddress 127.0.0.1\n"
           << "HostKey " << key.string() << "\n"
           << "PidFile " << (dir / "sshd.pid").string() << "\n"
           << "AuthorizedKeysFile " << (dir / "authorized_keys").string() << "\n"
           << "UsePAM no\n"
           << "StrictModes no\n"
           << "PasswordAuthentication no\n"
           << "KbdInteractiveAuthentication no\n"
           << "PermitRootLogin prohibit-password\n"
           << "AcceptEnv LANG LC_*\n"
           << "LogLevel VERBOSE\n"
           << "Subsystem sftp /usr/lib/openssh/sftp-server\n";
    writeFile(dir / "sshd_config", config.str(), 0644);
    process_.start({"/usr/sbin/sshd", "-D", "-e", "-f", (dir / "sshd_config").string()},
                   dir / "sshd.log");
    if (!waitForPort(port_, std::chrono::seconds(10))) {
        throw std::runtime_error("sshd did not start: " + log());
    }
}

SshdFixture::~SshdFixture() {
    process_.stop(SIGTERM, std::chrono::seconds(3));
}

std::string SshdFixture::log() const {
    return readFile(dir_.path() / "sshd.log");
}

}  // namespace portcullis::test
