// Issue 13 (login), at the gateway with the stock ssh client: a right code
// typed as "123 456" or "123-456" gets in, and is never a failure for being
// spaced (the account's failure count stays 0); a wrong code spaced the same
// way is refused as wrong (positive control). The PAM side is in
// pam_login_forms_test.cpp; both go through db::OtpGuard.
#include <string>

#include <gtest/gtest.h>

#include "db/accounts.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessResult;
using portcullis::test::SingleTargetTest;
using portcullis::test::SshCall;

class GatewaySpacedCodeTest : public SingleTargetTest {
  protected:
    ProcessResult login(const std::string& code) {
        SshCall call;
        call.user = "erin:box";
        call.key = key_;
        call.code = code;
        call.command = "echo in-$((6*7))";
        call.logLevel = "INFO";
        return gw_->ssh(call);
    }
    int failures() { return require(db::Accounts(gw_->db()).find("erin")).failures; }
    template <class T>
    static T require(Result<T>&& r) {
        EXPECT_TRUE(r) << r.error();
        return std::move(r).value();
    }
};

TEST_F(GatewaySpacedCodeTest, SpacedAndDashedCodesGetIn) {
    setUpTarget("erin");
    gw_->start();
    const std::string now = gw_->code("erin");
    auto r = login(now.substr(0, 3) + " " + now.substr(3));
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "in-42\n");
    EXPECT_EQ(failures(), 0);
    const std::string next = gw_->code("erin", 1);
    r = login(next.substr(0, 3) + "-" + next.substr(3));
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "in-42\n");
    EXPECT_EQ(failures(), 0);

    // Positive control: a wrong code with the same space is refused as wrong.
    std::string wrong = "000000";
    for (const char* c : {"000000", "111111", "222222", "333333"}) {
        bool valid = false;
        for (int offset = -2; offset <= 3; ++offset) valid |= gw_->code("erin", offset) == c;
        if (!valid) {
            wrong = c;
            break;
        }
    }
    r = login(wrong.substr(0, 3) + " " + wrong.substr(3));
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: wrong code")) << describe(r);
    EXPECT_GE(failures(), 1);
}

}  // namespace
}  // namespace portcullis::gateway::test
