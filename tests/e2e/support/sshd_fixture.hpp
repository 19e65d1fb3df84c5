#pragma once
// A real Debian sshd as a gateway target: its own config, host key and
// authorized_keys in a temporary directory, on a free loopback port
// (PLATFORM.md: absolute -f path, /run/sshd, UsePAM no, StrictModes no).
#include <filesystem>
#include <string>

#include "tests/e2e/support/background_process.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {

class SshdFixture {
  public:
    // authorizedKeys: the lines every login on this sshd accepts.
    explicit SshdFixture(const std::string& authorizedKeys);
    ~SshdFixture();

    int port() const { return port_; }
    // "ssh-ed25519 BASE64" of its host key, as a target pins it.
    const std::string& hostKeyLine() const { return hostKeyLine_; }
    std::string log() const;

  private:
    TempDir dir_{"portcullis-sshd"};
    int port_ = 0;
    std::string hostKeyLine_;
    BackgroundProcess process_;
};

}  // namespace portcullis::test
