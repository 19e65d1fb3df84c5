#pragma once
// A GoogleTest fixture base: a gateway (not yet started) with one target "box"
// (a real sshd trusting the gateway's upstream key) and one account, with its
// own key, granted on it. On failure the gateway's log is printed.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::test {

class SingleTargetTest : public ::testing::Test {
  protected:
    void setUpTarget(const std::string& account) {
        gw_ = std::make_unique<GatewayFixture>();
        sshd_ = std::make_unique<SshdFixture>(gw_->upstreamPublicKey());
        gw_->addTarget("box", sshd_->port(), "root", sshd_->hostKeyLine());
        key_ = gw_->newKey(account);
        gw_->addUser(account, key_.string() + ".pub");
        gw_->grant(account, "box");
    }
    void TearDown() override {
        if (!HasFailure() || !gw_) return;
        const auto log = gw_->log();
        std::cerr << "---- portcullisd log (tail) ----\n"
                  << (log.size() > 8000 ? log.substr(log.size() - 8000) : log) << "\n";
    }

    std::unique_ptr<GatewayFixture> gw_;
    std::unique_ptr<SshdFixture> sshd_;
    std::filesystem::path key_;
};

}  // namespace portcullis::test
